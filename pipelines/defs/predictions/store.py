"""The model step's tables in the build database (schema `marts`, published like the marts).

| table | grain | written |
| --- | --- | --- |
| `marts.clv_model_fits` | as-of date × model × parameter | every run (a rerun replaces the date) |
| `marts.customer_predictions` | customer × as-of date | only when every gate passed |
| `marts.clv_holdout_fit` | as-of date × calibration repeat purchases 0..7+ | when fitted |

A withheld (failed) fit leaves `customer_predictions` as it was: earlier dates, and this date's
predictions from an earlier run if there were any. Each write is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import pandas as pd

from pipelines.defs.predictions.model import BG_NBD_PARAMETERS, GAMMA_GAMMA_PARAMETERS, Fit

FITS_TABLE = "marts.clv_model_fits"
PREDICTIONS_TABLE = "marts.customer_predictions"
HOLDOUT_TABLE = "marts.clv_holdout_fit"

_CREATE = {
    FITS_TABLE: f"""
        create table if not exists {FITS_TABLE} (
            as_of_date date not null,
            model varchar not null,
            parameter varchar not null,
            value double,
            log_likelihood double,
            customers_fitted bigint not null,
            converged boolean not null
        )""",
    PREDICTIONS_TABLE: f"""
        create table if not exists {PREDICTIONS_TABLE} (
            customer_key varchar not null,
            as_of_date date not null,
            probability_alive double not null,
            expected_purchases_90_days double not null,
            expected_purchases_365_days double not null,
            expected_average_order_value double not null,
            predicted_clv_365_days double not null,
            clv_tier varchar not null
        )""",
    HOLDOUT_TABLE: f"""
        create table if not exists {HOLDOUT_TABLE} (
            as_of_date date not null,
            calibration_end_date date not null,
            calibration_repeat_purchases integer not null,
            customers bigint not null,
            actual_holdout_purchases double not null,
            expected_holdout_purchases double not null
        )""",
}
_PARAMETERS = {"bg_nbd": BG_NBD_PARAMETERS, "gamma_gamma": GAMMA_GAMMA_PARAMETERS}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    for ddl in _CREATE.values():
        con.execute(ddl)


def fit_rows(as_of: date, fits: Sequence[Fit]) -> list[tuple]:
    """One row per model and parameter; a fit that produced no parameters keeps its rows
    with a null value, so the history shows the failure."""
    rows = []
    for fit in fits:
        for name in _PARAMETERS[fit.model]:
            value = fit.params.get(name)
            loglik = fit.log_likelihood if fit.log_likelihood == fit.log_likelihood else None
            rows.append((as_of, fit.model, name, value, loglik, fit.customers, fit.converged))
    return rows


def _replace_date(
    con: duckdb.DuckDBPyConnection, table: str, as_of: date, frame: pd.DataFrame
) -> None:
    columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    con.execute(f"delete from {table} where as_of_date = ?", [as_of])
    if len(frame):
        con.register("_clv_rows", frame[columns])
        try:
            con.execute(f"insert into {table} select * from _clv_rows")
        finally:
            con.unregister("_clv_rows")


def write_run(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    fits: Sequence[Fit],
    predictions: pd.DataFrame | None,
    holdout: pd.DataFrame | None,
) -> None:
    """Replace the date's fits (and holdout rows); the predictions only when given (gates
    passed). One transaction."""
    ensure_tables(con)
    con.execute("begin transaction")
    try:
        fits_frame = pd.DataFrame(
            fit_rows(as_of, fits),
            columns=[
                "as_of_date",
                "model",
                "parameter",
                "value",
                "log_likelihood",
                "customers_fitted",
                "converged",
            ],
        )
        _replace_date(con, FITS_TABLE, as_of, fits_frame)
        if holdout is not None:
            _replace_date(con, HOLDOUT_TABLE, as_of, holdout)
        if predictions is not None:
            _replace_date(con, PREDICTIONS_TABLE, as_of, predictions.assign(as_of_date=as_of))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
