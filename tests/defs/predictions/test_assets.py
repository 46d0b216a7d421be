"""The model step as a Dagster asset on a real build database: a good fit writes predictions;
a failed fit withholds them (its check fails with severity ERROR) while the step succeeds, so
the rest of the refresh is still published."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pipelines.defs.predictions import assets as prediction_assets
from pipelines.resources import default_resources
from pipelines.settings import PROJECT_ROOT

CDNOW = PROJECT_ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_sample.csv"
AS_OF = date(1997, 9, 30)
SETTINGS = {
    "clv_holdout_days": 91,
    "clv_holdout_max_customers": 200_000,
    "clv_annual_discount_rate": 0.0,
    "clv_high_tier_share": 0.10,
    "clv_medium_tier_share": 0.40,
}


def purchase_days() -> pd.DataFrame:
    """CDNOW as int_customer_purchase_days would hold it: one row per customer and day."""
    lines = pd.read_csv(CDNOW, dtype={"customer_id": str, "date": str})
    lines["activity_date"] = pd.to_datetime(lines["date"], format="%Y%m%d").dt.date
    lines["is_purchase"] = lines["amount"] > 0
    return (
        lines.groupby(["customer_id", "activity_date"])
        .agg(orders=("is_purchase", "sum"), net_revenue=("amount", "sum"))
        .reset_index()
        .rename(columns={"customer_id": "customer_key"})
    )


def write_inputs(build_db: Path, days: pd.DataFrame) -> None:
    with duckdb.connect(str(build_db)) as con:
        for schema in ("meta", "intermediate"):
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create or replace table meta.run_as_of_dates as select ?::date as as_of_date", [AS_OF]
        )
        con.execute(
            "create or replace table intermediate.int_segment_settings as select "
            + ", ".join(f"{value!r}::double as {name}" for name, value in SETTINGS.items())
        )
        con.register("days", days)
        con.execute(
            "create or replace table intermediate.int_customer_purchase_days as "
            "select customer_key, activity_date::date as activity_date, orders::bigint as orders, "
            "net_revenue::decimal(18, 2) as net_revenue from days"
        )


def materialise() -> dg.ExecuteInProcessResult:
    return dg.materialize(prediction_assets.assets, resources=default_resources())


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clv_warehouse")


@pytest.fixture()
def env(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGMENTS_WAREHOUSE_DIR", str(warehouse))
    return warehouse / "build.duckdb"


def test_a_good_fit_writes_predictions_and_passes_its_checks(env: Path) -> None:
    write_inputs(env, purchase_days())

    result = materialise()

    assert result.success
    evaluations = checks(result)
    assert evaluations["fit_converged"].passed
    assert evaluations["predictions_valid"].passed
    with duckdb.connect(str(env), read_only=True) as con:
        rows, dates = con.execute(
            "select count(*), count(distinct as_of_date) from marts.customer_predictions"
        ).fetchone()
        converged = con.execute(
            "select bool_and(converged), count(*) from marts.clv_model_fits"
        ).fetchone()
        holdout = con.execute("select sum(customers) from marts.clv_holdout_fit").fetchone()[0]
    # 2,357 customers, 8 of whom bought only $0 lines up to 1997-09-30: no purchase
    assert (rows, dates) == (2349, 1)
    assert converged == (True, 7)
    assert holdout > 1500  # first purchase by 1997-07-01: the calibration period


def test_a_failed_fit_withholds_only_the_predictions(env: Path) -> None:
    # runs after the good fit: a rerun of the same date on data too thin to fit
    write_inputs(env, purchase_days().head(40))

    result = materialise()

    assert result.success  # the step succeeds: the publish of everything else goes ahead
    evaluations = checks(result)
    fit_check = evaluations["fit_converged"]
    assert not fit_check.passed
    assert fit_check.severity == dg.AssetCheckSeverity.ERROR
    assert "at least 50" in fit_check.description
    assert not evaluations["predictions_valid"].passed
    (materialisation,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == prediction_assets.PREDICTIONS_KEY
    ]
    assert materialisation.metadata["withheld"].value is True
    with duckdb.connect(str(env), read_only=True) as con:
        kept = con.execute("select count(*) from marts.customer_predictions").fetchone()[0]
        fits = con.execute(
            "select bool_or(converged), count(value), count(*) from marts.clv_model_fits"
        ).fetchone()
    assert kept == 2349  # the earlier predictions of the date stay
    assert fits == (False, 0, 7)  # the failed fit is recorded, replacing the date's rows
