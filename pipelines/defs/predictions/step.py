"""The model step: summary → fits → gates → predictions → tables, for the run's latest as-of date.

Only the latest as-of date of the run gets predictions (one fit per run; a backfill over a
range fits once, for its last date). The gates (fit converged, parameters positive and
finite, predictions finite, probabilities in [0, 1]) decide whether the predictions are
written; the fits are written either way so `clv_model_fits` shows what failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from pipelines.defs.predictions import model, store, summary

HOLDOUT_BUCKETS = 7  # calibration repeat purchases 0..6 and "7 or more", as in FHL 2005 fig. 3


@dataclass
class StepResult:
    as_of: date | None
    fits: list[model.Fit] = field(default_factory=list)
    fit_problems: list[str] = field(default_factory=list)
    prediction_problems: list[str] = field(default_factory=list)
    customers: int = 0
    predictions_written: int = 0
    holdout: pd.DataFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return self.predictions_written > 0


def holdout_fit(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: model.PredictionSettings
) -> pd.DataFrame | None:
    """Fit BG/NBD on data up to as_of - holdout_days, then compare expected with actual
    repeat purchase days in the holdout, by calibration repeat purchases (0..6, 7+)."""
    calibration_end = as_of - timedelta(days=settings.holdout_days)
    data = summary.holdout_summary(con, calibration_end, as_of, settings.holdout_max_customers)
    fit = model.fit_bgnbd(data)
    if not fit.usable:
        return None
    frame = model.bgnbd_frame(data)
    expected = model.expected_purchases(fit, frame, settings.holdout_days)
    bucket = np.minimum(data["frequency"].to_numpy(), HOLDOUT_BUCKETS).astype(int)
    grouped = (
        pd.DataFrame(
            {
                "calibration_repeat_purchases": bucket,
                "actual": data["holdout_purchases"].to_numpy(dtype=float),
                "expected": expected,
            }
        )
        .groupby("calibration_repeat_purchases")
        .agg(
            customers=("actual", "size"),
            actual_holdout_purchases=("actual", "mean"),
            expected_holdout_purchases=("expected", "mean"),
        )
        .reset_index()
    )
    grouped.insert(0, "calibration_end_date", calibration_end)
    grouped.insert(0, "as_of_date", as_of)
    return grouped


def run_step(con: duckdb.DuckDBPyConnection) -> StepResult:
    """Fit, judge and store the models for the run's latest as-of date (store.py)."""
    as_of = summary.latest_run_date(con)
    result = StepResult(as_of)
    if as_of is None:
        result.fit_problems.append("meta.run_as_of_dates is empty: no as-of date to predict for")
        return result
    settings = summary.read_settings(con)
    clock = time.perf_counter()
    data = summary.customer_summary(con, as_of)
    result.customers = len(data)
    result.seconds["summary"] = time.perf_counter() - clock

    clock = time.perf_counter()
    bgnbd = model.fit_bgnbd(data)
    result.seconds["fit_bg_nbd"] = time.perf_counter() - clock
    clock = time.perf_counter()
    gamma_gamma = model.fit_gamma_gamma(data)
    result.seconds["fit_gamma_gamma"] = time.perf_counter() - clock
    result.fits = [bgnbd, gamma_gamma]
    result.fit_problems = [p for fit in result.fits for p in fit.problems]

    predictions = None
    if not result.fit_problems:
        clock = time.perf_counter()
        predictions = model.predict(data, bgnbd, gamma_gamma, settings)
        result.prediction_problems = model.prediction_problems(predictions)
        result.seconds["predict"] = time.perf_counter() - clock
        if result.prediction_problems:
            predictions = None

    clock = time.perf_counter()
    result.holdout = holdout_fit(con, as_of, settings)
    result.seconds["holdout"] = time.perf_counter() - clock

    clock = time.perf_counter()
    store.write_run(con, as_of, result.fits, predictions, result.holdout)
    result.predictions_written = 0 if predictions is None else len(predictions)
    result.seconds["write"] = time.perf_counter() - clock
    return result
