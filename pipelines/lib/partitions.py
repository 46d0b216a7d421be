"""The daily partitions every asset shares, and the pure date logic around them."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from pipelines import settings as _settings

DAILY = dg.DailyPartitionsDefinition(
    start_date=_settings.load().start_date.isoformat(),
    # A day's partition opens once the day is over: the schedule refreshes yesterday.
    end_offset=0,
)

# A backfill longer than this keeps one snapshot per month-end instead of one per day,
# so `make run` over two years of history computes ~24 + 35 snapshots, not 730.
DAILY_SNAPSHOT_WINDOW_DAYS = 35


def daterange(start: date, end: date) -> list[date]:
    """Every day from start to end, both inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def snapshot_dates(start: date, end: date) -> list[date]:
    """As-of dates a run over partitions [start, end] computes segments for.

    The last `DAILY_SNAPSHOT_WINDOW_DAYS` days of the range get a daily snapshot; earlier days
    only their month-end. A one-day run gives exactly [end].
    """
    if end < start:
        raise ValueError(f"snapshot range ends ({end}) before it starts ({start})")
    daily_from = max(start, end - timedelta(days=DAILY_SNAPSHOT_WINDOW_DAYS - 1))
    dates = [
        d
        for d in daterange(start, daily_from - timedelta(days=1))
        if (d + timedelta(days=1)).day == 1
    ]
    return dates + daterange(daily_from, end)
