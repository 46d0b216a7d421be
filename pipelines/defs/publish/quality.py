"""The data-quality summary of a run, for the report: checks passed, rows quarantined.

Two origins, each optional so the report degrades instead of failing:

- the Dagster instance: asset-check evaluations of the run (GX suites, reconciliation,
  dbt tests as checks); inside the publish asset that is the current run, from
  `segments report` the newest run of the refresh job;
- the audited companion file (`build` names, see audited.py): `meta.load_manifest` (files
  and rows loaded / quarantined / waiting) and every `quarantine.<source>` table (rows by
  reason code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.lib.duck import quote_ident, sql_str


@dataclass(frozen=True)
class CheckSummary:
    run_id: str
    started_at: datetime | None
    passed: int
    failed: tuple[str, ...]  # "asset/key:check (ERROR|WARN)"

    @property
    def total(self) -> int:
        return self.passed + len(self.failed)


@dataclass(frozen=True)
class LoadSummary:
    files: int
    failed_files: tuple[tuple[str, str], ...]  # path, error
    duplicate_files: int
    rows_in_files: int
    rows_loaded: int
    rows_quarantined: int
    rows_waiting: int


@dataclass(frozen=True)
class QualitySummary:
    checks: CheckSummary | None
    checks_note: str  # why there is no check summary, when there is none
    loads: LoadSummary | None
    quarantine: tuple[tuple[str, str, int, int], ...] | None  # source, reason, rows, this run


def checks_of_run(instance, run_id: str) -> CheckSummary:
    """Asset-check evaluations recorded so far in `run_id` (the latest per check wins)."""
    import dagster as dg

    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    latest = {}
    for record in records:  # one per check evaluation, not per data row
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        latest[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    failed = tuple(
        f"{asset}:{check} ({getattr(e.severity, 'value', e.severity)})"
        for (asset, check), e in sorted(latest.items())
        if not e.passed
    )
    run_record = instance.get_run_record_by_id(run_id)
    started = run_record.start_time if run_record else None
    return CheckSummary(
        run_id=run_id,
        started_at=datetime.fromtimestamp(started, UTC) if started else None,
        passed=sum(1 for e in latest.values() if e.passed),
        failed=failed,
    )


def checks_of_last_run(
    dagster_home: Path, job_name: str = "refresh"
) -> tuple[CheckSummary | None, str]:
    """The newest run of `job_name` in the instance at `dagster_home`, or why there is none.

    Opens the instance only when it exists: creating one here would leave an empty
    `dagster_home` behind a report run on a warehouse copied from elsewhere.
    """
    if not (dagster_home / "storage").exists() and not (dagster_home / "dagster.yaml").exists():
        return None, f"no Dagster instance at {dagster_home} (set DAGSTER_HOME to read run checks)"
    import dagster as dg

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = os.fspath(dagster_home)
    try:
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
            if not runs:
                return None, f"no run of the {job_name} job in {dagster_home} yet"
            return checks_of_run(instance, runs[0].dagster_run.run_id), ""
    except Exception as exc:  # a report must not fail because the run history is unreadable
        return None, f"could not read the Dagster instance at {dagster_home}: {exc}"
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def load_summary(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]
) -> LoadSummary | None:
    """Totals of meta.load_manifest as published (`build` catalog of the audited session)."""
    if "build.meta.load_manifest" not in tables:
        return None
    row = con.execute(
        """
        select count(*),
               count(*) filter (where status like 'duplicate_of:%'),
               coalesce(sum(rows_in_file), 0), coalesce(sum(rows_loaded), 0),
               coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_waiting), 0)
        from build.meta.load_manifest
        """
    ).fetchone()
    failed = con.execute(
        "select file_path, coalesce(error, '') from build.meta.load_manifest "
        "where status = 'failed' order by file_path limit 20"
    ).fetchall()
    return LoadSummary(row[0], tuple(failed), row[1], row[2], row[3], row[4], row[5])


def quarantine_counts(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]], since: datetime | None
) -> tuple[tuple[str, str, int, int], ...] | None:
    """(source, reason_code, rows, rows loaded since `since`) over every quarantine table."""
    sources = [
        name.split(".")[-1]
        for name, columns in tables.items()
        if name.startswith("build.quarantine.") and "reason_code" in columns
    ]
    if not sources:
        return None
    since_naive = since.astimezone(UTC).replace(tzinfo=None) if since else None
    union = " union all ".join(
        f"select {sql_str(s)} as source, reason_code, _loaded_at "
        f"from build.quarantine.{quote_ident(s)}"
        for s in sorted(sources)
    )
    return tuple(
        con.execute(
            f"select source, reason_code, count(*), count(*) filter (where _loaded_at >= ?) "
            f"from ({union}) group by all order by 1, 2",
            [since_naive],
        ).fetchall()
    )


def summarise(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, list[str]],
    checks: CheckSummary | None,
    checks_note: str,
) -> QualitySummary:
    since = checks.started_at if checks else None
    return QualitySummary(
        checks, checks_note, load_summary(con, tables), quarantine_counts(con, tables, since)
    )
