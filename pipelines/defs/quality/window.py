"""Which rows a check looks at: the partitions the run processed, read in bounded batches.

How a check learns the run's partitions (verified with `dg.materialize` on Dagster 1.13): an
asset check on a partitioned asset gets no partitions of its own, but its context resolves
the run's partition tags exactly as the asset's does: `dagster/partition` for a one-day run,
`dagster/asset_partition_range_start` / `_end` for a single-run backfill. So
`context.partition_key_range` is the run's day range in both cases; a run without partition
tags (a check launched alone from the UI) has no range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from pipelines.lib.duck import quote_ident

# A day with more rows than this is validated alone; smaller days are packed together up to
# it. Measured on raw.shopify_orders (33 expectations, the columns they need): 500k rows are
# ~510 MB as a pandas frame (strings are Python objects) and ~7 s of GX, so 250k keeps a batch
# near 250 MB / 3.5 s; a backfill of 10M order lines is 40 batches (~2.5 min of GX).
MAX_ROWS_PER_BATCH = 250_000


@dataclass(frozen=True)
class RunWindow:
    """The run's partition days (inclusive) and when the run started (naive UTC)."""

    start: date | None
    end: date | None
    run_started_at: datetime | None = None

    @property
    def label(self) -> str:
        if self.start is None or self.end is None:
            return "latest partition (run has no partition)"
        return self.start.isoformat() if self.start == self.end else f"{self.start}..{self.end}"

    def days(self) -> tuple[str, str] | None:
        if self.start is None or self.end is None:
            return None
        return self.start.isoformat(), self.end.isoformat()


def run_window(context: dg.AssetCheckExecutionContext) -> RunWindow:
    """The partition range of the run a check executes in (see module docstring)."""
    started = None
    try:
        record = context.instance.get_run_record_by_id(context.run.run_id)
        if record is not None and record.start_time is not None:
            started = datetime.fromtimestamp(record.start_time, UTC).replace(tzinfo=None)
    except Exception:  # an instance without run records (direct invocation) just has no start
        started = None
    if not (context.has_partition_key or context.has_partition_key_range):
        return RunWindow(None, None, started)
    keys = context.partition_key_range
    # DAILY partition keys are ISO dates (YYYY-MM-DD).
    return RunWindow(date.fromisoformat(keys.start), date.fromisoformat(keys.end), started)


def row_filter(table: str, window: RunWindow) -> tuple[str, list]:
    """SQL predicate (and its parameters) for the rows of `table` a check validates.

    The rows of the run's partition days, plus any row this run loaded whatever its day
    (reference tables such as crm/fx stamp `_partition_date` with the load date, which is not
    the day a daily run processes). A run without partitions checks the latest loaded day.
    """
    if window.start is not None and window.end is not None:
        sql, params = "_partition_date BETWEEN ? AND ?", [window.start, window.end]
    else:
        sql, params = f"_partition_date = (SELECT max(_partition_date) FROM {table})", []
    if window.run_started_at is not None:
        sql, params = f"({sql}) OR _loaded_at >= ?", [*params, window.run_started_at]
    return sql, params


def plan_batches(
    day_counts: Sequence[tuple[date | None, int]], max_rows: int = MAX_ROWS_PER_BATCH
) -> list[tuple[date | None, date | None]]:
    """Group consecutive days into (first, last) batches of at most `max_rows` rows.

    `day_counts` is sorted by day (a NULL day, if any, last) with its row count; whole days
    stay together so per-day rules see a whole day. A NULL day is its own batch (None, None).
    Loops over days (hundreds), never over rows.
    """
    batches: list[tuple[date | None, date | None]] = []
    first: date | None = None
    last: date | None = None
    rows = 0
    for day, n in day_counts:
        if day is None:
            continue
        if first is not None and rows + n > max_rows:
            batches.append((first, last))
            first, rows = None, 0
        if first is None:
            first = day
        last, rows = day, rows + n
    if first is not None:
        batches.append((first, last))
    if any(day is None for day, _ in day_counts):
        batches.append((None, None))
    return batches


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """Column names of schema.table in table order (empty when the table does not exist)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def read_batches(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None,
    window: RunWindow,
    max_rows: int = MAX_ROWS_PER_BATCH,
):
    """Yield pandas frames of the rows `row_filter` selects, one per batch of whole days.

    Reads only `columns` (None: all). Always yields at least one (possibly empty) frame, so
    schema expectations run even on a day without rows.
    """
    predicate, params = row_filter(table, window)
    select = "*" if columns is None else ", ".join(quote_ident(c) for c in columns) or "*"
    day_counts = con.execute(
        f"SELECT _partition_date, count(*) FROM {table} WHERE {predicate} "
        "GROUP BY ALL ORDER BY 1 NULLS LAST",
        params,
    ).fetchall()
    batches = plan_batches(day_counts, max_rows)
    if not batches:
        yield con.execute(f"SELECT {select} FROM {table} LIMIT 0").df()
        return
    for first, last in batches:
        if first is None:
            day_sql, day_params = "_partition_date IS NULL", []
        else:
            day_sql, day_params = "_partition_date BETWEEN ? AND ?", [first, last]
        yield con.execute(
            f"SELECT {select} FROM {table} WHERE ({predicate}) AND {day_sql}",
            [*params, *day_params],
        ).df()
