"""dbt models as Dagster assets, and the as-of dates each run computes segments for."""

import os
import shutil
from collections.abc import Mapping, Set
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines import settings as _settings
from pipelines.defs.predictions import model as clv_model
from pipelines.defs.predictions.assets import PREDICTIONS_KEY
from pipelines.defs.warehouse import dbt_failures
from pipelines.defs.warehouse.customer_key import ensure_customer_key_secret
from pipelines.defs.warehouse.project import dbt_project, manifest_path
from pipelines.lib import runlock
from pipelines.lib.gate_report import GATE_FAILURE_KEY
from pipelines.lib.partitions import AS_OF, dates_for_run
from pipelines.resources import SegmentsSettings

# Raw tables whose dates bound the snapshots (reference data such as crm/fx does not).
TRANSACTION_TABLES = (
    "shopify_orders",
    "stripe_charges",
    "paypal_activity",
    "generic_transactions",
)


class SegmentsTranslator(DagsterDbtTranslator):
    """Models keyed `[schema, model]` (e.g. `marts/customer_segments`), grouped by layer.

    Sources keep dbt's default `[source, table]` key, which is exactly the key the ingest
    assets carry (`raw/shopify_orders`), so lineage joins with no glue code.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            schema = dbt_resource_props.get("config", {}).get("schema") or "main"
            return dg.AssetKey([schema, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "segment_rules"
        schema = dbt_resource_props.get("config", {}).get("schema")
        return schema or "warehouse"


def first_data_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """Earliest transaction day loaded so far, or None on an empty warehouse."""
    existing = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    parts = [
        f"select min(_partition_date) as d from raw.{t}"
        for t in TRANSACTION_TABLES
        if t in existing
    ]
    if not parts:
        return None
    return con.execute(f"select min(d) from ({' union all '.join(parts)})").fetchone()[0]


# From this many raw transaction rows dbt runs one model at a time (see profiles.yml).
ONE_THREAD_FROM_ROWS = 2_000_000


def dbt_threads(build_db: os.PathLike) -> int:
    """dbt threads for this run: SEGMENTS_DBT_THREADS if set, else 2 below
    ONE_THREAD_FROM_ROWS raw transaction rows and 1 from there (bounded memory first)."""
    if chosen := os.environ.get("SEGMENTS_DBT_THREADS", "").strip():
        return max(1, int(chosen))
    with duckdb.connect(os.fspath(build_db), read_only=True) as con:
        rows = con.execute(
            "select coalesce(sum(estimated_size), 0) from duckdb_tables() "
            "where schema_name = 'raw' and table_name in ("
            + ", ".join(f"'{t}'" for t in TRANSACTION_TABLES)
            + ")"
        ).fetchone()[0]
    return 1 if rows >= ONE_THREAD_FROM_ROWS else 2


def last_snapshot_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """Newest as-of date in the segment history, or None before the first refresh."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'segment_snapshots'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute("select max(as_of_date) from marts.segment_snapshots").fetchone()[0]


def write_run_as_of_dates(
    build_db: os.PathLike,
    window_start: date,
    window_end: date,
    cfg: _settings.Settings | None = None,
) -> list[date]:
    """Replace meta.run_as_of_dates with the as-of dates a run over [window_start,
    window_end] computes (`partitions.dates_for_run`)."""
    cfg = cfg or _settings.load()
    with duckdb.connect(os.fspath(build_db)) as con:
        dates = dates_for_run(
            window_start,
            window_end,
            last_snapshot=last_snapshot_date(con),
            first_data=first_data_date(con),
            months=cfg.history_months,
            daily_days=cfg.history_daily_days,
        )
        con.execute("create schema if not exists meta")
        con.execute("create or replace table meta.run_as_of_dates (as_of_date date not null)")
        con.executemany("insert into meta.run_as_of_dates values (?)", [(d,) for d in dates])
    return dates


@dg.asset(
    key=["meta", "customer_key_secret"],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="warehouse",
    kinds={"duckdb"},
)
def customer_key_secret(settings: SegmentsSettings) -> dg.MaterializeResult:
    """The secret customer_key is keyed with (one row, never published): read from
    `$SEGMENTS_WAREHOUSE_DIR/customer_key.secret` (0600, made on the first run), copied into
    meta.customer_key_secret for dbt. See pipelines/defs/warehouse/customer_key.py."""
    cfg = settings.get()
    done = ensure_customer_key_secret(cfg.warehouse_dir, cfg.build_db)
    return dg.MaterializeResult(
        metadata={
            "secret_file": dg.MetadataValue.path(done["secret_file"]),
            "action": done["action"],
            "history_dropped": ", ".join(done["history_dropped"]) or "none",
        }
    )


@dg.asset(
    key=["meta", "run_as_of_dates"],
    partitions_def=AS_OF,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        *(
            dg.AssetKey(["raw", t])
            for t in (*TRANSACTION_TABLES, "crm_contacts", "fx_rates", "events", "support_tickets")
        ),
        # runs first: a re-key drops the history, which makes this run a first refresh
        dg.AssetKey(["meta", "customer_key_secret"]),
    ],
    group_name="warehouse",
    kinds={"duckdb"},
)
def run_as_of_dates(
    context: dg.AssetExecutionContext, settings: SegmentsSettings
) -> dg.MaterializeResult:
    """The as-of dates this run computes segments for: one row per date. The only
    partitioned asset: its partitions are the as-of dates an analyst backfills.

    A one-day run on an empty history is the first refresh: month-ends of the last
    SEGMENTS_HISTORY_MONTHS months and every day of the last SEGMENTS_HISTORY_DAILY_DAYS. A
    one-day run after the newest snapshot adds the days since it (normally one). A range run
    (a backfill) adds or replaces its own dates: daily for its last 35 days, month-ends
    before. Never before the first loaded transaction. dbt reads this table instead of
    `--vars`, so dbt keeps its partial parse.
    """
    cfg = settings.get()
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date() - timedelta(days=1)
    dates = write_run_as_of_dates(cfg.build_db, start, end, cfg)
    return dg.MaterializeResult(
        metadata={
            "snapshots": len(dates),
            "first_as_of_date": dates[0].isoformat(),
            "last_as_of_date": dates[-1].isoformat(),
        }
    )


# The dbt models are not partitioned: each run computes the dates in meta.run_as_of_dates from
# every loaded row; the history marts are incremental on as_of_date. Partitioning them too
# would make Dagster record one event per model per day (35 models x 730 days = 25k events).
@dbt_assets(
    manifest=manifest_path(),
    project=dbt_project,
    dagster_dbt_translator=SegmentsTranslator(),
    # Unpartitioned, but single-run: `dagster asset materialize --partition-range` requires it
    # of every selected asset.
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: SegmentsSettings
):
    """Every dbt model, seed and data test, in one `dbt build` per run (each dbt call costs
    ~6 s)."""
    cfg = settings.get()
    cfg.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)  # DuckDB creates no parents
    # profiles.yml reads the build database's path and DuckDB settings from these
    os.environ.update(cfg.dbt_env())
    os.environ["SEGMENTS_DBT_THREADS_RUN"] = str(dbt_threads(cfg.build_db))
    # This warehouse's own parse state (see keep_partial_parse), in the invocation's target
    # dir before dagster-dbt would seed it from the project's.
    target = (
        dbt_project.project_dir
        / "target"
        / f"warehouse_models-{context.run.run_id[:7]}-{uuid4().hex[:7]}"
    )
    seed_partial_parse(cfg.dbt_parse_state, target)
    # While dbt works in its own process, this one waits on its output: the CLV step's fixed
    # costs (pymc's imports, compiling the likelihood) are paid meanwhile on another thread.
    if run_includes(context.run.asset_selection, PREDICTIONS_KEY):
        clv_model.prepare_in_background()
    # Unit tests check the SQL, not the data: they run in the test suite (tests/dbt), not on
    # every refresh, as dbt recommends (7 of them cost ~3 s a run).
    invocation = dbt.cli(
        ["build", "--exclude-resource-type", "unit_test"],
        context=context,
        raise_on_error=False,
        target_path=target,
    )
    # If this process is killed (SIGKILL), the dbt child would go on holding build.duckdb:
    # the next run ends it (runlock.sweep) using the pid recorded here.
    runlock.record_child(cfg.warehouse_dir, invocation.process.pid)
    # A failed test's result waits until dbt has exited: only then can build.duckdb be read
    # to say how many rows failed, from which files, with examples (dbt_failures.py).
    failed_checks: list[dg.AssetCheckResult] = []
    try:
        for event in invocation.stream():
            if isinstance(event, dg.AssetCheckResult) and not event.passed:
                failed_checks.append(event)
            else:
                yield event
    finally:
        runlock.forget_child(cfg.warehouse_dir)
    problems: list[dbt_failures.DbtProblem] = []
    skipped = 0
    if failed_checks or not invocation.is_successful():
        run_results = _run_results(invocation)
        skipped = sum(r.get("status") == "skipped" for r in run_results.get("results", []))
        problems = dbt_failures.explain(run_results, invocation.manifest, cfg.build_db)
    by_id = {p.unique_id: p for p in problems}
    for check in failed_checks:
        yield _explained(check, by_id)
    keep_partial_parse(invocation.target_path, cfg.dbt_parse_state)
    prune_target_dirs(invocation.target_path.parent, keep=KEEP_TARGET_DIRS)
    if not invocation.is_successful():
        message = dbt_failures.summary(problems, skipped)
        if not problems:
            message += f"\n(see the dbt log: {invocation.target_path / 'dbt.log'})"
        raise dg.Failure(
            description=message,
            metadata={GATE_FAILURE_KEY: dg.MetadataValue.text(message)},
        )


def run_includes(selection: Set[dg.AssetKey] | None, key: dg.AssetKey) -> bool:
    """Whether a run with this `asset_selection` materializes `key`. A run of a whole job
    carries no selection (None, or an empty set from `execute_in_process`): everything in
    the job runs."""
    return not selection or key in selection


def _run_results(invocation) -> dict:
    try:
        return invocation.get_artifact("run_results.json")
    except (OSError, ValueError):  # dbt died before writing it
        return {}


def _explained(
    check: dg.AssetCheckResult, problems: Mapping[str, dbt_failures.DbtProblem]
) -> dg.AssetCheckResult:
    """The failed check result of a dbt test, with its count, files and example rows."""
    unique_id = check.metadata.get("unique_id")
    unique_id = getattr(unique_id, "value", unique_id)
    problem = problems.get(unique_id) if isinstance(unique_id, str) else None
    if problem is None:
        return check
    text = problem.failure.check_text()
    return dg.AssetCheckResult(
        check_name=check.check_name,
        asset_key=check.asset_key,
        passed=False,
        severity=check.severity,
        description=text,
        metadata={**check.metadata, GATE_FAILURE_KEY: dg.MetadataValue.text(text)},
    )


def seed_partial_parse(state: Path, invocation_target: Path) -> None:
    """Start the invocation from this warehouse's last parse, if it has one.

    dbt re-parses the whole project (~3 s, plus writing a new manifest) when the connection
    settings it was parsed with differ, and they are per warehouse (the build database's path,
    the DuckDB temp dir). dagster-dbt seeds each invocation with the project's
    target/partial_parse.msgpack (made by `make manifest` with the default warehouse's
    settings) unless the invocation's target dir already holds one: a warehouse that has run
    before brings its own, so its runs parse only what changed in the project."""
    if state.exists():
        invocation_target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state, invocation_target / PARTIAL_PARSE)


def keep_partial_parse(invocation_target: Path, state: Path) -> None:
    """Keep this run's parse as the warehouse's parse state (atomically: a killed run leaves
    the previous one), for the next run of the same warehouse (seed_partial_parse)."""
    source = invocation_target / PARTIAL_PARSE
    if not source.exists():
        return
    state.parent.mkdir(parents=True, exist_ok=True)
    staged = state.with_name(f".{state.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, staged)
    os.replace(staged, state)


PARTIAL_PARSE = "partial_parse.msgpack"


# dagster-dbt gives every invocation its own target dir (~14 MB: manifest, compiled SQL,
# run_results.json); a daily schedule would pile up 5 GB a year. The newest few are kept for
# debugging (and for `segments bench`, which reads run_results.json).
KEEP_TARGET_DIRS = 5


def prune_target_dirs(target_root: Path, keep: int) -> None:
    runs = sorted(
        (p for p in target_root.glob("warehouse_models-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


assets = [customer_key_secret, run_as_of_dates, warehouse_models]
