"""Great Expectations suites as Dagster asset checks (one GX pass, two check results).

Each checked table has one suite file `expectations/<name>.json`. Its `critical`
expectations become a blocking check (`gx_critical`: a failure stops every downstream asset,
so nothing reaches the published file); its `warning`/`info` expectations a non-blocking one
(`gx_warning`, severity WARN). Both come from a single validation of the rows, so the rows are
read once per run.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of an
# asset check at definition time and does not resolve string annotations.

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from pipelines import settings as _settings
from pipelines.defs.quality.window import read_batches, run_window, table_columns
from pipelines.lib import gx
from pipelines.lib.currencies import ISO_4217
from pipelines.lib.duck import connect, quote_ident

CRITICAL_CHECK = "gx_critical"
WARNING_CHECK = "gx_warning"


def suite_parameters(cfg: _settings.Settings, today: date | None = None) -> dict:
    """Values for the suites' `{"$PARAMETER": ...}` placeholders.

    "Not in the future" is judged per UTC day, like ingest's `future_date` rule: a value is
    valid when it is before `tomorrow_utc` (00:00 UTC of the next day; suites use
    `strict_max`). Timestamps are naive UTC like every warehouse timestamp, and DATE columns
    arrive in pandas as midnight timestamps, so dates are passed as datetimes too.
    """
    today = today or datetime.now(UTC).date()
    return {
        "known_currencies": sorted(ISO_4217),
        "tomorrow_utc": datetime.combine(today + timedelta(days=1), datetime.min.time()),
        "start_date": datetime.combine(cfg.start_date, datetime.min.time()),
        "reporting_currency": cfg.reporting_currency,
    }


@dataclass(frozen=True)
class SuiteTarget:
    """A table checked by a suite: the asset it belongs to and how its rows are chosen."""

    asset_key: dg.AssetKey
    schema: str
    table: str
    suite_path: Path
    # True: only the rows of the run's partition days (raw tables). False: the whole table
    # (marts, rebuilt by every run).
    windowed: bool
    materialize_hint: str  # what to run when the table is missing

    @property
    def relation(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _description(target: SuiteTarget, blocking: bool) -> str:
    meta = gx.read_suite_json(target.suite_path).get("meta", {})
    about = meta.get("description", "")
    rows = "the rows of the run's partitions" if target.windowed else "the whole table"
    rel = f"expectations/{target.suite_path.name}"
    if blocking:
        return (
            f"Blocking: {rows} of {target.name} pass every `critical` expectation in {rel}; "
            f"a failure stops the publish. {about}"
        ).strip()
    return f"Warning only: the `warning` expectations in {rel} on {rows} of {target.name}."


def _frames(con, target: SuiteTarget, window, columns) -> Iterator:
    if target.windowed:
        yield from read_batches(con, target.relation, columns, window)
    else:
        select = "*" if columns is None else ", ".join(quote_ident(c) for c in columns) or "*"
        yield con.execute(f"SELECT {select} FROM {target.relation}").df()


def _severity(spec: dg.AssetCheckSpec) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN


def _missing_table_message(target: SuiteTarget, build_db: Path) -> str:
    return (
        f"{target.name} does not exist yet in {build_db}: materialise {target.materialize_hint} "
        "first (e.g. run the `refresh` job for this partition)."
    )


def build_gx_checks(target: SuiteTarget) -> dg.AssetChecksDefinition:
    """The GX asset checks of one table: `gx_critical` (blocking) and, when the suite has
    non-critical expectations, `gx_warning`."""
    severities = gx.suite_severities(target.suite_path)
    specs = [
        dg.AssetCheckSpec(
            CRITICAL_CHECK,
            asset=target.asset_key,
            blocking=True,
            description=_description(target, blocking=True),
        )
    ]
    if severities - {gx.BLOCKING_SEVERITY}:
        specs.append(
            dg.AssetCheckSpec(
                WARNING_CHECK,
                asset=target.asset_key,
                blocking=False,
                description=_description(target, blocking=False),
            )
        )

    @dg.multi_asset_check(
        specs=specs,
        name=f"gx_{target.schema}_{target.table}",
        description=f"Validate {target.name} with expectations/{target.suite_path.name}.",
        compute_kind="great_expectations",
        # Either check may be launched alone from the UI; the rows are validated once anyway.
        can_subset=True,
    )
    def _gx_check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        selected = [spec for spec in specs if spec.key in context.selected_asset_check_keys]
        cfg = _settings.load()
        window = run_window(context)
        scope = window.label if target.windowed else "whole table"
        read_started = time.perf_counter()
        with connect(cfg.build_db, read_only=True) as con:
            columns = table_columns(con, target.schema, target.table)
            if not columns:
                message = _missing_table_message(target, cfg.build_db)
                for spec in selected:
                    yield dg.AssetCheckResult(
                        check_name=spec.name,
                        asset_key=target.asset_key,
                        passed=False,
                        severity=_severity(spec),
                        description=message,
                        metadata={"error": dg.MetadataValue.text(message)},
                    )
                return
            needed = gx.suite_columns(target.suite_path, columns)
            params = suite_parameters(cfg)
            results = [
                gx.validate_dataframe(df, target.suite_path, parameters=params)
                for df in _frames(con, target, window, needed)
            ]
        total_seconds = time.perf_counter() - read_started
        result = gx.merge_results(results)
        context.log.info(
            f"{target.name} ({scope}): {result.rows:,} rows in {result.batches} batch(es), "
            f"GX {result.seconds:.3f} s of {total_seconds:.3f} s"
        )
        for spec in selected:
            part = (
                result.only(gx.BLOCKING_SEVERITY)
                if spec.blocking
                else result.only("warning", "info")
            )
            yield dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=target.asset_key,
                passed=part.success,
                severity=_severity(spec),
                description=gx.summary_line(part),
                metadata={
                    **gx.result_metadata(part),
                    "table": dg.MetadataValue.text(target.name),
                    "partitions": dg.MetadataValue.text(scope),
                    "check_seconds": dg.MetadataValue.float(round(total_seconds, 3)),
                },
            )

    return _gx_check
