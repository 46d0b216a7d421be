"""dbt models as Dagster assets, and the as-of dates each run computes segments for."""

import os
import shutil
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines import settings as _settings
from pipelines.defs.warehouse.project import dbt_project, ensure_manifest
from pipelines.lib.partitions import DAILY, snapshot_dates

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
    """Earliest transaction partition loaded so far, or None on an empty warehouse."""
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


def write_run_as_of_dates(
    build_db: os.PathLike, window_start: date, window_end: date
) -> list[date]:
    """Replace meta.run_as_of_dates with the snapshot dates of [window_start, window_end]."""
    with duckdb.connect(os.fspath(build_db)) as con:
        first = first_data_date(con)
        start = max(window_start, first) if first and first <= window_end else window_end
        dates = snapshot_dates(start, window_end)
        con.execute("create schema if not exists meta")
        con.execute("create or replace table meta.run_as_of_dates (as_of_date date not null)")
        con.executemany("insert into meta.run_as_of_dates values (?)", [(d,) for d in dates])
    return dates


@dg.asset(
    key=["meta", "run_as_of_dates"],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetKey(["raw", t])
        for t in (*TRANSACTION_TABLES, "crm_contacts", "fx_rates", "events", "support_tickets")
    ],
    group_name="warehouse",
    kinds={"duckdb"},
)
def run_as_of_dates(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The as-of dates this run computes segments for: one row per date.

    A daily run gives its partition date. A range run gives a daily snapshot for the last 35
    days of the range and a month-end snapshot before that, never before the first loaded
    transaction. dbt reads this table instead of `--vars`, so dbt keeps its partial parse.
    """
    cfg = _settings.load()
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date() - timedelta(days=1)
    dates = write_run_as_of_dates(cfg.build_db, start, end)
    return dg.MaterializeResult(
        metadata={
            "snapshots": len(dates),
            "first_as_of_date": dates[0].isoformat(),
            "last_as_of_date": dates[-1].isoformat(),
        }
    )


ensure_manifest()


# The dbt models are not partitioned: each run rebuilds them from every loaded partition, as of
# the dates in meta.run_as_of_dates. Partitioning them too would make Dagster record one event
# per model per day (35 models x 730 days = 25k SQLite commits for a two-year backfill).
@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=SegmentsTranslator(),
    # Unpartitioned, but single-run: `dagster asset materialize --partition-range` requires it
    # of every selected asset.
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Every dbt model, seed and test, in one `dbt build` per run (each dbt call costs ~6 s)."""
    settings = _settings.load()
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)  # DuckDB creates no parents
    os.environ.update(settings.dbt_env())
    invocation = dbt.cli(["build"], context=context)
    yield from invocation.stream()
    prune_target_dirs(invocation.target_path.parent, keep=KEEP_TARGET_DIRS)


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


assets = [run_as_of_dates, warehouse_models]
