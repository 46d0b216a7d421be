"""pipelines/lib/partitions.py: which as-of dates a run computes (pure date logic)."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.lib.partitions import (
    AS_OF,
    dates_for_run,
    history_dates,
    is_month_end,
    snapshot_dates,
)

FIRST = date(2024, 12, 1)


def run(start: date, end: date, last: date | None, first: date | None = FIRST) -> list[date]:
    return dates_for_run(start, end, last_snapshot=last, first_data=first, months=24, daily_days=35)


def test_a_one_day_range_is_that_day() -> None:
    assert snapshot_dates(date(2026, 3, 9), date(2026, 3, 9)) == [date(2026, 3, 9)]


def test_first_refresh_builds_month_ends_and_the_last_35_days() -> None:
    dates = run(date(2026, 11, 30), date(2026, 11, 30), last=None)
    daily = [d for d in dates if d >= date(2026, 10, 27)]
    assert len(daily) == 35 and daily[-1] == date(2026, 11, 30)
    month_ends = [d for d in dates if d < date(2026, 10, 27)]
    assert month_ends[0] == date(2024, 12, 31)  # not before the first transaction
    assert all(is_month_end(d) for d in month_ends)
    assert len(month_ends) == 22  # Dec 2024 .. Sep 2026
    assert dates == sorted(set(dates))


def test_first_refresh_keeps_at_most_the_configured_months() -> None:
    dates = history_dates(date(2015, 1, 1), date(2026, 11, 30), months=12, daily_days=35)
    assert dates[0] == date(2025, 11, 30)
    assert len(dates) == 11 + 35


def test_daily_run_after_the_last_snapshot_adds_one_date() -> None:
    assert run(date(2026, 12, 1), date(2026, 12, 1), last=date(2026, 11, 30)) == [date(2026, 12, 1)]


def test_daily_run_after_a_gap_catches_up_the_missed_days() -> None:
    assert run(date(2026, 12, 4), date(2026, 12, 4), last=date(2026, 11, 30)) == [
        date(2026, 12, 1),
        date(2026, 12, 2),
        date(2026, 12, 3),
        date(2026, 12, 4),
    ]


def test_a_past_day_or_a_backfill_computes_only_its_own_dates() -> None:
    # A backfill never moves the present back: it adds or replaces history only.
    assert run(date(2026, 6, 30), date(2026, 6, 30), last=date(2026, 11, 30)) == [date(2026, 6, 30)]
    week = run(date(2026, 11, 20), date(2026, 11, 26), last=date(2026, 11, 30))
    assert week == [date(2026, 11, d) for d in range(20, 27)]


def test_dates_before_the_first_transaction_are_skipped() -> None:
    assert run(date(2024, 1, 1), date(2024, 12, 3), last=None, first=FIRST)[0] >= FIRST
    assert run(date(2024, 11, 1), date(2024, 11, 5), last=date(2026, 1, 1), first=FIRST) == [
        date(2024, 11, 5)
    ]


def test_an_empty_warehouse_computes_the_requested_day() -> None:
    assert run(date(2026, 11, 30), date(2026, 11, 30), last=None, first=None) == [
        date(2026, 11, 30)
    ]


def test_reversed_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        snapshot_dates(date(2026, 3, 9), date(2026, 3, 1))


def test_partitions_are_daily_as_of_dates() -> None:
    assert AS_OF.get_partition_keys()[0] == AS_OF.start.date().isoformat()
