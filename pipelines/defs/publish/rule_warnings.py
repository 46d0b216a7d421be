"""Say what the rules imply: RFM segments whose recency contradicts the lifecycle rules.

Recency is scored by quintile by default (`recency_scoring,quintile` in
dbt_project/seeds/rfm_settings.csv): r = 5 is the most recent fifth of the RFM population,
however long ago that is. On a base where most customers have lapsed (a one-off campaign, a
data set that ends long after its customers stopped buying) r = 4-5 reaches back past the
lifecycle `former` threshold (`lifecycle,lapsing_max_days` in segment_settings.csv, 365
days), and Champions or Loyal Customers have not bought for over a year. The rules are as
documented (../shared/docs/SEGMENTS.md); nothing is wrong in the data, but a user acting on
"Champions" must be told. The report and `segments status` say per segment how many
customers with a recent score (r 4-5) are `former`, their recency range, and the setting that
scores recency by days instead (`recency_scoring,fixed`, ranges in rfm_fixed_thresholds.csv).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import settings as _settings

RECENT_SCORES = 4  # r_score at or above this reads as "bought recently"
SEEDS = _settings.DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class RecencyContradiction:
    segment: str
    customers: int  # members with r_score >= RECENT_SCORES and lifecycle former
    members: int  # all members of the segment
    min_recency_days: int
    max_recency_days: int


def _seed_value(name: str, *key: str) -> str | None:
    """A value of a settings seed: rfm_settings.csv (parameter, value) or
    segment_settings.csv (family, parameter, value)."""
    path = SEEDS / name
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if tuple(row[: len(key)]) == key and len(row) > len(key):
                return row[len(key)]
    return None


def former_days() -> int:
    return int(_seed_value("segment_settings.csv", "lifecycle", "lapsing_max_days") or 365)


def recency_scoring() -> str:
    return _seed_value("rfm_settings.csv", "recency_scoring") or "quintile"


def recency_contradictions(
    con: duckdb.DuckDBPyConnection, table: str = "customer_segments"
) -> list[RecencyContradiction]:
    """Per RFM segment of the newest as-of date in `table`: members scored recent (r 4-5)
    whose lifecycle is `former`, most first."""
    rows = con.execute(
        f"""
        select rfm_segment,
               count(*) filter (where r_score >= ? and lifecycle_status = 'former'),
               count(*),
               min(recency_days) filter (where r_score >= ? and lifecycle_status = 'former'),
               max(recency_days) filter (where r_score >= ? and lifecycle_status = 'former')
        from {table}
        where as_of_date = (select max(as_of_date) from {table}) and rfm_segment is not null
        group by 1
        having count(*) filter (where r_score >= ? and lifecycle_status = 'former') > 0
        order by 2 desc, 1
        """,
        [RECENT_SCORES] * 4,
    ).fetchall()
    return [RecencyContradiction(*r) for r in rows]


def warning_lines(items: list[RecencyContradiction]) -> list[str]:
    """One line per segment, then one line with the setting to change; empty when none."""
    if not items:
        return []
    days = former_days()
    lines = [
        f"{c.customers:,} of {c.members:,} {c.segment} last bought {c.min_recency_days}-"
        f"{c.max_recency_days} days ago: recency score {RECENT_SCORES}-5, yet lifecycle "
        f"`former` (no purchase for more than lapsing_max_days={days} days)"
        for c in items
    ]
    lines.append(
        f"why: recency is scored by {recency_scoring()} rank among customers, so on a base "
        "where most have lapsed r 4-5 reaches back past a year; to score recency by days set "
        "`recency_scoring,fixed` in dbt_project/seeds/rfm_settings.csv (ranges in "
        "rfm_fixed_thresholds.csv) and run again."
    )
    return lines


def published_warning_lines(published_db: Path) -> list[str]:
    """The warning lines for a published segments.duckdb (read-only)."""
    import os

    with duckdb.connect(os.fspath(published_db), read_only=True) as con:
        return warning_lines(recency_contradictions(con))
