"""The as-of-date partitions and the pure date logic of which snapshots a run computes.

Only one asset is partitioned: `meta/run_as_of_dates`, by the **as-of date** of the segment
snapshots (the thing an analyst backfills). Ingest is file-driven and the dbt models are
unpartitioned, so Dagster records a handful of events per run, not one per asset per day
(730 days x 8 ingest assets made ~18,000 events per refresh before, issue 10).
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from pipelines import settings as _settings

AS_OF = dg.DailyPartitionsDefinition(
    start_date=_settings.load().start_date.isoformat(),
    # A day's partition opens once the day is over: the schedule computes yesterday.
    end_offset=0,
)

# A range longer than this keeps one snapshot per month-end before its last N days, so a
# first refresh over two years computes ~24 + 35 snapshots, not 730.
DAILY_SNAPSHOT_WINDOW_DAYS = 35


def daterange(start: date, end: date) -> list[date]:
    """Every day from start to end, both inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def is_month_end(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


def snapshot_dates(
    start: date, end: date, daily_days: int = DAILY_SNAPSHOT_WINDOW_DAYS
) -> list[date]:
    """As-of dates for the range [start, end]: every day of its last `daily_days` days, and
    only the month-ends before them. A one-day range gives exactly [end]."""
    if end < start:
        raise ValueError(f"snapshot range ends ({end}) before it starts ({start})")
    daily_from = max(start, end - timedelta(days=daily_days - 1))
    month_ends = [d for d in daterange(start, daily_from - timedelta(days=1)) if is_month_end(d)]
    return month_ends + daterange(daily_from, end)


def history_dates(
    first_data: date | None, as_of: date, *, months: int, daily_days: int
) -> list[date]:
    """The history a first refresh builds: the month-ends of the last `months` months (not
    before the first transaction) and every day of the last `daily_days` days up to `as_of`."""
    if first_data is None or first_data > as_of:
        return [as_of]
    floor = _months_before(as_of, months)
    return snapshot_dates(max(first_data, floor), as_of, daily_days)


def dates_for_run(
    window_start: date,
    window_end: date,
    *,
    last_snapshot: date | None,
    first_data: date | None,
    months: int,
    daily_days: int,
) -> list[date]:
    """The as-of dates one run computes (pure; `meta/run_as_of_dates` writes them).

    - A one-day run on an empty history is the **first refresh**: `history_dates`.
    - A one-day run after the newest snapshot catches up: the days since that snapshot (a
      schedule that was off for a week fills the week), month-ends beyond `daily_days`.
    - Any other run (a backfill range, or a past day) computes exactly its own range, with
      the same cadence; it adds or replaces history and never moves the present back.
    Dates before the first transaction are skipped (nothing to score yet).
    """
    if window_start == window_end:
        day = window_end
        if last_snapshot is None:
            return history_dates(first_data, day, months=months, daily_days=daily_days)
        if day > last_snapshot:
            window_start = last_snapshot + timedelta(days=1)
    start = window_start
    if first_data is not None and first_data > start:
        start = min(first_data, window_end)
    return snapshot_dates(start, window_end, daily_days)


def _months_before(d: date, months: int) -> date:
    """The first day of the month `months` months before d's month (months=24 → 2 years)."""
    index = d.year * 12 + (d.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)
