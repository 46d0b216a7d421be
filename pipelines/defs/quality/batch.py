"""Which rows a check judges: the batch this run loaded, and the recent loads before it.

The batch contract (issue 10: ingest is file-driven, not partitioned):

- **batch** of a raw table = its rows whose `_loaded_at` >= the start time of the current run
  (ingest stamps `_loaded_at` with the load's time on every row it writes). The run's start
  comes from the instance's run record (`context.instance.get_run_record_by_id`).
- nothing new landed (no such row) → the volume and drift checks pass trivially, with
  metadata saying "no new rows".
- a check launched without its asset (the UI's "Execute" on one check), or executed without
  a run record, judges the table's **latest load** (`_loaded_at = max(_loaded_at)`) instead.
- **baseline** = the rows of the `BASELINE_LOADS` most recent loads (distinct `_loaded_at`)
  before the batch: what "normal" volume, null shares and value mixes look like.

Partition tags play no part: the same rules hold whether the run has a partition, a partition
range (a single-run backfill) or none. The partition label, if any, is only reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

# How many earlier loads make the baseline of volume and drift metrics. Ten daily loads: a
# week and a half of "normal", short enough to follow a real trend.
BASELINE_LOADS = 10


@dataclass(frozen=True)
class RunBatch:
    """What a check knows about its run: when it started and whether it loaded the asset."""

    run_started_at: datetime | None  # naive UTC; None without a run record
    materializes_asset: bool  # False: the check was launched alone (no asset in the run)
    partitions: str | None = None  # the run's partition (range), for the record only

    @property
    def label(self) -> str:
        if self.run_started_at is None or not self.materializes_asset:
            return "latest load"
        return f"rows loaded since {self.run_started_at.isoformat(sep=' ', timespec='seconds')}"


def _partitions_label(context: dg.AssetCheckExecutionContext) -> str | None:
    try:
        if not (context.has_partition_key or context.has_partition_key_range):
            return None
        keys = context.partition_key_range
    except Exception:  # a check outside a partitioned run
        return None
    return keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"


def run_batch(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey) -> RunBatch:
    """The batch of the run this check executes in (see module docstring)."""
    started = None
    try:
        record = context.instance.get_run_record_by_id(context.run.run_id)
        if record is not None and record.start_time is not None:
            started = datetime.fromtimestamp(record.start_time, UTC).replace(tzinfo=None)
    except Exception:  # an instance without run records (direct invocation) just has no start
        started = None
    return RunBatch(started, _plans_asset(context, asset_key), _partitions_label(context))


def _plans_asset(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey) -> bool:
    """Whether this run materialises `asset_key` (its ASSET_MATERIALIZATION_PLANNED event,
    one per asset and run). `DagsterRun.asset_selection` cannot tell: in-process runs of an
    implicit job leave it empty."""
    try:
        records = context.instance.get_records_for_run(
            context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
    except Exception:  # no event log (direct invocation): judge like a run that loaded it
        return True
    return any(r.event_log_entry.dagster_event.asset_key == asset_key for r in records)


def raw_batch_sql(table: str, batch: RunBatch) -> tuple[str, list]:
    """SQL predicate (and parameters) selecting the batch rows of `table` (a relation)."""
    if batch.run_started_at is not None and batch.materializes_asset:
        return "_loaded_at >= ?", [batch.run_started_at]
    return f"_loaded_at = (SELECT max(_loaded_at) FROM {table})", []


def raw_baseline_sql(table: str, batch: RunBatch, loads: int = BASELINE_LOADS) -> tuple[str, list]:
    """SQL predicate (and parameters) selecting the `loads` loads before the batch."""
    if batch.run_started_at is not None and batch.materializes_asset:
        before, params = "?", [batch.run_started_at]
    else:
        before, params = f"(SELECT max(_loaded_at) FROM {table})", []
    return (
        f"_loaded_at IN (SELECT DISTINCT _loaded_at FROM {table} WHERE _loaded_at < {before} "
        f"ORDER BY 1 DESC LIMIT {int(loads)})",
        params,
    )
