"""`segments status`: the last run, what it published, and what failed — without the UI."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pipelines import settings as _settings
from pipelines.lib.gate_report import GATE_FAILURE_KEY

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def failure_text(error) -> str:
    """A step's error as the user should read it: the message without the exception's
    qualified class name in front, continuation lines indented."""
    if error is None or not error.message:
        return "failed"
    message = error.message.strip()
    head, sep, rest = message.partition(": ")
    if sep and "." in head and " " not in head:  # e.g. `<package>.events.Failure: `
        message = rest
    return message.replace("\n", "\n    ")


# The error class of a check step whose blocking check failed (Dagster raises it).
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
# A step's failure message in `segments status`: its first lines (the CLI prints it whole).
STATUS_STEP_LINES = 15


def _gate_text(evaluation) -> str:
    """What a failed check found (count, files, examples; pipelines/lib/gate_report.py), or
    its description."""
    value = (evaluation.metadata or {}).get(GATE_FAILURE_KEY)
    text = getattr(value, "value", value)
    if isinstance(text, str) and text.strip():
        return text.strip()
    return (getattr(evaluation, "description", None) or "").strip()


def failure_lines(
    events,
    *,
    max_step_lines: int | None = None,
    blocking_only: bool = False,
    step_verb: str = " failed",
) -> list[str]:
    """What failed in a run, from its Dagster events: each failed step with its message, each
    failed asset check with its count, files and up to three example rows (a check whose
    text the step's message already holds, e.g. a dbt test, is not repeated), each skipped
    step."""
    steps: list[tuple[str, object]] = []
    checks = []
    skipped: list[str] = []
    for event in events:
        if event.is_step_failure:
            steps.append((event.step_key, event.step_failure_data.error))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                checks.append(evaluation)
        elif event.event_type_value == "STEP_SKIPPED":
            skipped.append(event.step_key)
    lines: list[str] = []
    step_messages = []
    for key, error in steps:
        if getattr(error, "cls_name", None) == CHECK_FAILED_ERROR and checks:
            continue  # "1 blocking asset check failed": the check's own line says what
        step_messages.append(getattr(error, "message", "") or "")
        text = failure_text(error).splitlines()
        if max_step_lines is not None and len(text) > max_step_lines:
            more = len(text) - max_step_lines
            text = [*text[:max_step_lines], f"    ... and {more} more lines (the Dagster UI)"]
        lines.append(f"  step {key}{step_verb}: {text[0]}")
        lines.extend(f"  {line}" for line in text[1:])
    for evaluation in checks:
        severity = getattr(evaluation.severity, "value", str(evaluation.severity))
        if blocking_only and severity != "ERROR":
            continue
        text = _gate_text(evaluation)
        if text and any(text in message for message in step_messages):
            continue
        first, *rest = (text or "failed").splitlines()
        lines.append(
            f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
            f"failed ({severity}): {first}"
        )
        lines.extend(f"    {line.strip()}" for line in rest)
    lines.extend(
        f"  step {key} skipped (an upstream step or blocking check failed)" for key in skipped
    )
    return lines


def _fmt_ts(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_last_run(instance, job_name: str = "refresh") -> list[str]:
    """Lines describing the newest run of `job_name`: status, as-of dates, failures."""
    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
    if not records:
        return [f"no run of job {job_name!r} yet: run `segments run` or `make run`"]
    record = records[0]
    run = record.dagster_run
    tags = run.tags
    as_of = tags.get("dagster/partition") or (
        f"{tags.get(RANGE_START)} .. {tags.get(RANGE_END)}" if RANGE_START in tags else "-"
    )
    lines = [
        f"last run:   {run.run_id}  {run.status.value}",
        f"started:    {_fmt_ts(record.start_time)}   ended: {_fmt_ts(record.end_time)}",
        f"as of:      {as_of}",
    ]
    events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    failures = failure_lines(events, max_step_lines=STATUS_STEP_LINES)
    lines.append("failures:" if failures else "failures:   none")
    lines.extend(failures)
    return lines


def describe_published(cfg: _settings.Settings) -> list[str]:
    import duckdb

    path = cfg.published_db
    if not path.exists():
        return [f"published:  nothing yet ({path} does not exist)"]
    age_h = (datetime.now(UTC).timestamp() - path.stat().st_mtime) / 3600
    lines = [f"published:  {path}  ({path.stat().st_size:,} bytes, {age_h:.1f} h old)"]
    with duckdb.connect(os.fspath(path), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                # the published tables; bookkeeping lives in schemas such as _publish
                "select table_name from information_schema.tables "
                "where table_schema = 'main' order by 1"
            ).fetchall()
        ]
        for table in tables:
            n = con.execute(f'select count(*) from "{table}"').fetchone()[0]
            lines.append(f"  {table:<28} {n:>10,} rows")
        if "customer_segments" in tables:
            as_of = con.execute("select max(as_of_date) from customer_segments").fetchone()[0]
            lines.append(f"  as of {as_of}")
            from pipelines.defs.publish import rule_warnings

            implied = rule_warnings.warning_lines(rule_warnings.recency_contradictions(con))
            lines += [f"  WARNING: {line}" for line in implied[:-1]]
            lines += [f"    {line}" for line in implied[-1:]]
    if age_h > cfg.freshness_max_age_hours:
        lines.append(
            f"  WARNING: older than SEGMENTS_FRESHNESS_MAX_AGE_HOURS={cfg.freshness_max_age_hours}"
        )
    return lines


FILES_SHOWN = 15  # files with quarantined rows or an error listed by `segments status`
REASONS_SHOWN = 3


def describe_loads(cfg: _settings.Settings) -> list[str]:
    """Loaded / quarantined rows per source, then per file for the files with quarantined
    rows or an error (top reasons first). Safe while a run is going: it reads the copy the
    last run left, like `segments quarantine` (pipelines/quarantine.py)."""
    import duckdb

    from pipelines.quarantine import file_loads

    try:
        origin, files = file_loads(cfg)
    except duckdb.Error as exc:  # status must always print the rest
        return [f"loads:      cannot be read now ({str(exc).splitlines()[0]})"]
    if files is None:
        return [f"loads:      {origin}"]
    if not files:
        return ["loads:      no file loaded yet"]
    lines = [f"loads:      {origin}", "  source              files      loaded   quarantined"]
    by_source: dict[str, list] = {}
    for f in files:
        by_source.setdefault(f.source, []).append(f)
    for source, group in by_source.items():
        loaded = sum(f.rows_loaded for f in group)
        quarantined = sum(f.rows_quarantined for f in group)
        share = quarantined / (loaded + quarantined) if loaded + quarantined else 0.0
        lines.append(
            f"  {source:<18} {len(group):>6} {loaded:>11,} {quarantined:>10,} ({share:.1%})"
        )
    flagged = [f for f in files if f.rows_quarantined or f.status not in ("loaded",)]
    flagged = [f for f in flagged if not f.status.startswith("duplicate_of:")]
    for f in flagged[:FILES_SHOWN]:
        top = ", ".join(f"{reason} {n:,}" for reason, n in f.reasons[:REASONS_SHOWN])
        more = len(f.reasons) - REASONS_SHOWN
        text = (
            f"  {f.file}: {f.status}, {f.rows_loaded:,} loaded, {f.rows_quarantined:,} quarantined"
        )
        if top:
            text += f" ({top}{f', +{more} more reasons' if more > 0 else ''})"
        if f.error:
            text += f"; error: {f.error.splitlines()[0][:160]}"
        lines.append(text)
    if len(flagged) > FILES_SHOWN:
        lines.append(f"  ... {len(flagged) - FILES_SHOWN} more files with quarantined rows")
    if flagged:
        lines.append("  every row: `segments quarantine --file <file>`")
    return lines


def describe_warehouse_lock(instance, cfg: _settings.Settings) -> list[str]:
    """The run holding the warehouse now, if any. A run that died holding it (SIGKILL, a
    crash) is marked failed here, so it does not show as STARTED forever."""
    from pipelines.lib import runlock
    from pipelines.resources import mark_run_failed

    if not runlock.lock_path(cfg.warehouse_dir).exists():
        return []
    with runlock.reading(cfg.warehouse_dir) as free:
        if not free:
            holder = runlock.read_holder(cfg.warehouse_dir)
            who = holder.describe() if holder else "a run that is starting"
            return [f"running:    {who} holds the warehouse"]
        dead = runlock.read_holder(cfg.warehouse_dir)  # written, but nobody holds the lock
        if dead is not None and mark_run_failed(instance, dead, by="segments status"):
            return [
                f"marked failed: {dead.describe()} ended without finishing (killed?); "
                "the next run cleans up after it"
            ]
    return []


def status_lines() -> list[str]:
    import dagster as dg

    cfg = _settings.load()
    _settings.ensure_dagster_home(cfg)
    with dg.DagsterInstance.get() as instance:
        lines = describe_warehouse_lock(instance, cfg) + describe_last_run(instance)
    return lines + describe_loads(cfg) + describe_published(cfg)
