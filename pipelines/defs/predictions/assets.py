"""Predicted CLV and churn risk as Dagster assets: one step after dbt, before the segments.

    dbt (int_customer_purchase_days, int_segment_settings)
        └──▶ marts/customer_predictions + marts/clv_model_fits + marts/clv_holdout_fit
                └──▶ marts/dynamic_segment_members, published/segments_db

The gates are asset checks evaluated by the model step itself (`fit_converged` on
clv_model_fits, `predictions_valid` on customer_predictions), because the step uses their
outcome: it writes the predictions only when both pass. They are not *blocking* checks: a
blocking failure would skip every asset downstream, i.e. the publish of everything else.
Instead a failed gate withholds only the predictions (the table keeps its earlier rows), the
check fails with severity ERROR and a one-line reason, and the rest of the refresh is
published as usual. pymc-marketing is imported only when the step runs.
"""

import dagster as dg

from pipelines.defs.predictions.step import StepResult, run_step
from pipelines.resources import BuildDatabase

PREDICTIONS_KEY = dg.AssetKey(["marts", "customer_predictions"])
FITS_KEY = dg.AssetKey(["marts", "clv_model_fits"])
HOLDOUT_KEY = dg.AssetKey(["marts", "clv_holdout_fit"])
KEYS = (PREDICTIONS_KEY, FITS_KEY, HOLDOUT_KEY)
UPSTREAM = (
    dg.AssetKey(["intermediate", "int_customer_purchase_days"]),
    dg.AssetKey(["intermediate", "int_segment_settings"]),
    dg.AssetKey(["marts", "customer_facts"]),
)
FIT_CHECK = "fit_converged"
PREDICTIONS_CHECK = "predictions_valid"

_COMMON = {"deps": list(UPSTREAM), "group_name": "predictions", "kinds": {"python", "duckdb"}}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PREDICTIONS_KEY,
            description="One row per customer with a purchase per as-of date (the run's latest "
            "only): BG/NBD probability alive and expected purchases in 90 / 365 days, "
            "Gamma-Gamma expected order value, predicted 365-day CLV and its tier.",
            **_COMMON,
        ),
        dg.AssetSpec(
            FITS_KEY,
            description="One row per as-of date, model (bg_nbd, gamma_gamma) and parameter: "
            "fitted value (time in weeks), log-likelihood, customers fitted, converged.",
            **_COMMON,
        ),
        dg.AssetSpec(
            HOLDOUT_KEY,
            description="One row per as-of date and calibration repeat purchases (0..7, 7 = 7 "
            "or more): actual vs BG/NBD-expected repeat purchase days in the holdout period.",
            **_COMMON,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            FIT_CHECK,
            asset=FITS_KEY,
            description="BG/NBD and Gamma-Gamma converged; every parameter positive and "
            "finite. Failing withholds the predictions (not the rest of the publish).",
        ),
        dg.AssetCheckSpec(
            PREDICTIONS_CHECK,
            asset=PREDICTIONS_KEY,
            description="No NaN or infinite prediction, probability_alive in [0, 1], no "
            "negative expectation. Failing withholds the predictions.",
        ),
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def customer_predictions(context: dg.AssetExecutionContext, build_db: BuildDatabase):
    """Fit BG/NBD + Gamma-Gamma (pymc-marketing, MAP) for the run's latest as-of date and
    write the predictions when the fit passes its gates (pipelines/defs/predictions)."""
    with build_db.connect() as con:
        result = run_step(con)
    for line in _log_lines(result):
        context.log.info(line)
    problems = [*result.fit_problems, *result.prediction_problems]
    if problems:
        context.log.error(
            f"predictions as of {result.as_of} withheld (customer_predictions keeps its earlier "
            f"rows; the rest of the refresh is published): {'; '.join(problems)}"
        )
    yield from _results(result)


def _log_lines(result: StepResult) -> list[str]:
    lines = [
        f"{fit.model}: {', '.join(f'{k}={v:.4g}' for k, v in fit.params.items()) or 'no fit'}"
        f" (log-likelihood {fit.log_likelihood:.1f}, {fit.customers:,} customers, "
        f"converged={fit.converged})"
        for fit in result.fits
    ]
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in result.seconds.items())
    lines.append(
        f"as of {result.as_of}: {result.customers:,} customers, "
        f"{result.predictions_written:,} predictions written; {timings}"
    )
    return lines


def _results(result: StepResult):
    as_of = result.as_of.isoformat() if result.as_of else "none"
    fits_md = "\n".join(
        ["| model | parameter | value |", "| --- | --- | ---: |"]
        + [
            f"| {fit.model} | {name} | {value:.4f} |"
            for fit in result.fits
            for name, value in fit.params.items()
        ]
    )
    yield dg.MaterializeResult(
        asset_key=PREDICTIONS_KEY,
        metadata={
            "as_of_date": as_of,
            "customers": result.customers,
            "predictions_written": result.predictions_written,
            "withheld": not result.published,
            **{f"seconds_{k}": round(v, 3) for k, v in result.seconds.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=FITS_KEY,
        metadata={
            "as_of_date": as_of,
            "fits": dg.MetadataValue.md(fits_md),
            **{
                f"log_likelihood_{fit.model}": round(fit.log_likelihood, 3)
                for fit in result.fits
                if fit.log_likelihood == fit.log_likelihood
            },
        },
    )
    holdout = result.holdout
    yield dg.MaterializeResult(
        asset_key=HOLDOUT_KEY,
        metadata={
            "as_of_date": as_of,
            "buckets": 0 if holdout is None else len(holdout),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=FITS_KEY,
        check_name=FIT_CHECK,
        passed=not result.fit_problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(result.fit_problems) or "both fits converged",
        metadata={f"converged_{fit.model}": fit.converged for fit in result.fits},
    )
    # Not evaluated when no fit could be used: then it fails with that reason.
    yield dg.AssetCheckResult(
        asset_key=PREDICTIONS_KEY,
        check_name=PREDICTIONS_CHECK,
        passed=result.published,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(result.prediction_problems)
        or (
            f"{result.predictions_written:,} predictions, all finite, probabilities in [0, 1]"
            if result.published
            else "no predictions: the fit failed its gate (see fit_converged)"
        ),
    )


assets = [customer_predictions]
