"""Great Expectations suites as Dagster asset checks, validated on aggregate profiles.

Each checked table has one suite file `expectations/<name>.json`. Its expectations name
metrics (`rows_vs_baseline`, `null_share(email)`, `share_shift(currency)`, ...; see
`pipelines/lib/profile.py`): DuckDB computes them with a few aggregate queries over the batch
and its baseline, and GX validates the resulting one-row frame. No table rows are read into
pandas, so a check costs about the same at 10 thousand or 10 million rows.

Its `critical` expectations become a blocking check (`gx_critical`: a failure stops every
downstream asset, so nothing reaches the published file); its `warning`/`info` expectations a
non-blocking one (`gx_warning`, severity WARN). Both come from a single profile and a single
GX validation per run.

What is profiled:
- raw tables: the batch this run loaded (`pipelines/defs/quality/batch.py`), against the
  most recent earlier loads as the baseline; nothing new landed → both checks pass with
  "no new rows";
- marts (rebuilt by every run): the whole table, against the same table in the currently
  published file (what BI sees now) as the baseline.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of an
# asset check at definition time and does not resolve string annotations.

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import settings as _settings
from pipelines.defs.quality.batch import (
    BASELINE_LOADS,
    RunBatch,
    raw_baseline_sql,
    raw_batch_sql,
    run_batch,
)
from pipelines.defs.quality.gx_explain import explain_failures
from pipelines.lib import gx
from pipelines.lib.currencies import ISO_4217
from pipelines.lib.duck import connect, quote_ident, sql_str
from pipelines.lib.gate_report import GATE_FAILURE_KEY
from pipelines.lib.profile import Scope, compute_profile
from pipelines.resources import SegmentsSettings

CRITICAL_CHECK = "gx_critical"
WARNING_CHECK = "gx_warning"
NO_NEW_ROWS = "no new rows"


def suite_parameters(cfg: _settings.Settings, today: date | None = None) -> dict:
    """Values for the suites' `{"$PARAMETER": ...}` placeholders.

    "Not in the future" is judged per UTC day, like ingest's `future_date` rule: a value is
    valid when it is before `tomorrow_utc` (00:00 UTC of the next day; suites use
    `strict_max`). Dates in a profile are midnight datetimes, so dates are passed as
    datetimes too.
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
    """A table checked by a suite: the asset it belongs to and what its batch is."""

    asset_key: dg.AssetKey
    schema: str
    table: str
    suite_path: Path
    # True: the rows loaded by the run, against earlier loads (raw tables). False: the whole
    # table, against the published copy (marts, rebuilt by every run).
    per_load: bool
    materialize_hint: str  # what to run when the table is missing
    published_table: str | None = None  # the mart's name in the published file (baseline)

    @property
    def relation(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _description(target: SuiteTarget, blocking: bool) -> str:
    meta = gx.read_suite_json(target.suite_path).get("meta", {})
    about = meta.get("description", "")
    rows = (
        "the profile of the rows this run loaded (vs. recent loads)"
        if target.per_load
        else "the profile of the whole table (vs. the published copy)"
    )
    rel = f"expectations/{target.suite_path.name}"
    if blocking:
        return (
            f"Blocking: {rows} of {target.name} passes every `critical` expectation in {rel}; "
            f"a failure stops the publish. {about}"
        ).strip()
    return f"Warning only: the `warning` expectations in {rel} on {rows} of {target.name}."


def _severity(spec: dg.AssetCheckSpec) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN


def _missing_table_message(target: SuiteTarget, build_db: Path) -> str:
    return (
        f"{target.name} does not exist yet in {build_db}: materialise {target.materialize_hint} "
        "first (e.g. run the `refresh` job)."
    )


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? "
        "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def _attach_published(con: duckdb.DuckDBPyConnection, published_db: Path) -> bool:
    """Attach the published file read-only as `pub`; False when there is none (first publish)
    or it cannot be read (then the marts simply have no baseline)."""
    if not published_db.exists():
        return False
    try:
        con.execute(f"ATTACH {sql_str(os.fspath(published_db))} AS pub (READ_ONLY)")
    except duckdb.Error:
        return False
    return True


def profile_target(
    con: duckdb.DuckDBPyConnection,
    target: SuiteTarget,
    batch: RunBatch,
    published_db: Path | None = None,
) -> dict:
    """Every metric the target's suite names (plus `rows`), computed in DuckDB."""
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    columns = _columns(con, catalog, target.schema, target.table)
    metrics = ["rows", *gx.suite_metrics(target.suite_path)]
    if target.per_load:
        loads = int(
            gx.read_suite_json(target.suite_path).get("meta", {}).get("baseline_loads")
            or BASELINE_LOADS
        )
        where, params = raw_batch_sql(target.relation, batch)
        base_where, base_params = raw_baseline_sql(target.relation, batch, loads)
        scope = Scope(
            target.relation,
            columns,
            where,
            params,
            baseline_relation=target.relation,
            baseline_columns=columns,
            baseline=base_where,
            baseline_params=base_params,
            baseline_group="_loaded_at",
            day_column="_partition_date" if "_partition_date" in columns else None,
        )
    else:
        baseline_relation, baseline_columns = None, []
        if (
            published_db is not None
            and target.published_table
            and _attach_published(con, published_db)
        ):
            baseline_columns = _columns(con, "pub", "main", target.published_table)
            if baseline_columns:
                baseline_relation = f"pub.main.{quote_ident(target.published_table)}"
        scope = Scope(
            target.relation,
            columns,
            baseline_relation=baseline_relation,
            baseline_columns=baseline_columns,
        )
    return compute_profile(con, scope, metrics)


def profile_markdown(values: dict) -> str:
    lines = ["| metric | value |", "| --- | ---: |"]
    for name, value in values.items():
        if isinstance(value, float):
            shown = f"{value:.4g}"
        else:
            shown = "null" if value is None else str(value)
        lines.append(f"| `{name}` | {shown} |")
    return "\n".join(lines)


def build_gx_checks(target: SuiteTarget) -> dg.AssetChecksDefinition:
    """The GX asset checks of one table: `gx_critical` (blocking) and, when the suite has
    non-critical expectations, `gx_warning`."""
    severities = gx.suite_severities(target.suite_path)
    gx.suite_metrics(target.suite_path)  # a metric typo stops the code location load
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
        # Either check may be launched alone from the UI; the profile is computed once anyway.
        can_subset=True,
    )
    def _gx_check(
        context: dg.AssetCheckExecutionContext, settings: SegmentsSettings
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [spec for spec in specs if spec.key in context.selected_asset_check_keys]
        cfg = settings.get()
        batch = run_batch(context, target.asset_key)
        scope = batch.label if target.per_load else "whole table"
        started = time.perf_counter()
        with connect(cfg.build_db, read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [target.schema, target.table],
            ).fetchone()[0]
            if not exists:
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
            values = profile_target(con, target, batch, cfg.published_db)
        profile_seconds = time.perf_counter() - started
        common = {
            "table": dg.MetadataValue.text(target.name),
            "batch": dg.MetadataValue.text(scope),
            "partitions": dg.MetadataValue.text(batch.partitions or "none"),
            "suite": dg.MetadataValue.path(str(target.suite_path)),
            "profile": dg.MetadataValue.md(profile_markdown(values)),
        }
        if target.per_load and not values["rows"]:
            description = (
                f"{NO_NEW_ROWS} in {target.name} ({scope}): nothing new landed, so volume and "
                "drift checks pass trivially."
            )
            context.log.info(description)
            for spec in selected:
                yield dg.AssetCheckResult(
                    check_name=spec.name,
                    asset_key=target.asset_key,
                    passed=True,
                    severity=_severity(spec),
                    description=description,
                    metadata={
                        **common,
                        "rows_validated": dg.MetadataValue.int(0),
                        "note": dg.MetadataValue.text(NO_NEW_ROWS),
                        "check_seconds": dg.MetadataValue.float(round(profile_seconds, 3)),
                    },
                )
            return
        parameters = suite_parameters(cfg)
        result = gx.validate_profile(values, target.suite_path, parameters=parameters)
        total_seconds = time.perf_counter() - started
        context.log.info(
            f"{target.name} ({scope}): profile of {result.rows:,} rows in "
            f"{profile_seconds:.3f} s, GX {result.seconds:.3f} s"
        )
        for spec in selected:
            part = (
                result.only(gx.BLOCKING_SEVERITY)
                if spec.blocking
                else result.only("warning", "info")
            )
            description = gx.summary_line(part)
            extra: dict[str, dg.MetadataValue] = {}
            if not part.success:
                text = _explain(cfg.build_db, target, batch, part, parameters)
                if text:
                    description = text
                    extra[GATE_FAILURE_KEY] = dg.MetadataValue.text(text)
            yield dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=target.asset_key,
                passed=part.success,
                severity=_severity(spec),
                description=description,
                metadata={
                    **gx.result_metadata(part),
                    **common,
                    **extra,
                    "profile_seconds": dg.MetadataValue.float(round(profile_seconds, 3)),
                    "check_seconds": dg.MetadataValue.float(round(total_seconds, 3)),
                },
            )

    return _gx_check


def _explain(
    build_db: Path, target: SuiteTarget, batch: RunBatch, part: gx.SuiteResult, parameters: dict
) -> str:
    """The failed expectations of `part` with their rows: count, files, examples
    (gx_explain.py); '' when the rows cannot be read (the summary line stays)."""
    if target.per_load:
        where, params = raw_batch_sql(target.relation, batch)
        label = "the batch"
    else:
        where, params, label = "TRUE", [], "the table"
    try:
        with connect(build_db, read_only=True) as con:
            failures = explain_failures(
                con,
                relation=target.relation,
                batch_where=where,
                batch_params=params,
                suite_path=target.suite_path,
                parameters=parameters,
                failed=part.failed,
                batch_label=label,
            )
    except duckdb.Error:
        return ""
    # Example rows for the first failed expectation only: one line for each of the others.
    return "\n".join(f.text() if i == 0 else f.headline for i, f in enumerate(failures))
