"""The benchmark's data: a generated history, one held-back new day, and the peers' inputs.

Dates: the new day is the first of the latest month that is complete up to yesterday, and the
history is the `days` before it, so the full refresh scores as of the last day of a month.
That choice makes the new day's rows exactly the generator's files for the new month
(`<name>_YYYY-MM.<ext>`, split by UTC month): holding those files back and dropping them in
later is a daily export arriving, with no file rewritten. The reference files (CRM contacts,
FX rates) are single files and stay in place; they already cover the new day, as a CRM export
taken that morning would.

Peers' input (untimed, written once after the full refresh): the product's net transactions
(`marts.fct_transactions`) as one CSV, the file an analyst would start an RFM notebook from.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.lib.duck import sql_str

# The reference sources the generator writes as one file for the whole history.
REFERENCE_SOURCES = ("crm", "fx")


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says which step failed and where its log is."""


@dataclass(frozen=True)
class BenchDates:
    """The benchmark's calendar: history [start, as_of], then the incremental's new day."""

    start: date
    as_of: date
    new_day: date

    @property
    def partitions(self) -> int:
        return (self.as_of - self.start).days + 1


def bench_dates(today: date, days: int) -> BenchDates:
    """History of `days` days ending the day before the new day, the first of the latest month
    whose first day is complete (on or before yesterday)."""
    if days < 30:
        raise BenchError(f"--days {days}: the history needs at least 30 days (e.g. --days 730)")
    new_day = (today - timedelta(days=1)).replace(day=1)
    as_of = new_day - timedelta(days=1)
    return BenchDates(start=as_of - timedelta(days=days - 1), as_of=as_of, new_day=new_day)


def hold_back_new_day(landing_dir: Path, held_dir: Path, new_day: date) -> list[Path]:
    """Move the new day's files (the generator's files for its month) from `landing_dir` to
    `held_dir`, keeping their relative paths. Returns the held-back paths, relative."""
    suffix = f"_{new_day:%Y-%m}"
    moved = []
    for path in sorted(landing_dir.rglob(f"*{suffix}.*")):
        rel = path.relative_to(landing_dir)
        if rel.parts[0] in REFERENCE_SOURCES or not path.stem.endswith(suffix):
            continue
        target = held_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
        moved.append(rel)
    if not moved:
        raise BenchError(
            f"no landing file ends in {suffix}: the generator did not write the new day "
            f"{new_day} as separate files, so there is nothing for the daily incremental"
        )
    return moved


def drop_new_day(held_dir: Path, landing_dir: Path, files: list[Path]) -> None:
    """Move the held-back files into the landing zone: the new day's export arrives."""
    for rel in files:
        target = landing_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(held_dir / rel, target)


def export_transactions(build_db: Path, csv_path: Path, as_of: date) -> int:
    """Write the product's net transactions up to `as_of` as the peers' CSV; returns the rows.

    Grain: one row per transaction (order, charge, payment, receipt) with its customer, UTC
    date, whether it is a purchase (a refund-only row is not) and its net amount in the
    reporting currency. Ordered by time, as an export would be.
    """
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(os.fspath(build_db), read_only=True) as con:
        con.execute(
            "copy (select customer_key, transaction_date, is_purchase, net_amount "
            "from marts.fct_transactions where transaction_date <= ? "
            "order by transacted_at, transaction_key) "
            f"to {sql_str(os.fspath(csv_path))} (header, delimiter ',')",
            [as_of],
        )
        return con.execute(
            "select count(*) from marts.fct_transactions where transaction_date <= ?", [as_of]
        ).fetchone()[0]


def snapshot_product_scores(published_db: Path, parquet_path: Path, as_of: date) -> int:
    """Copy the product's published RFM scores as of `as_of` to Parquet; returns customers.

    Taken right after the full refresh, because the incremental replaces the published file.
    """
    with duckdb.connect(os.fspath(published_db), read_only=True) as con:
        published_as_of = con.execute("select max(as_of_date) from customer_segments").fetchone()[0]
        if published_as_of != as_of:
            raise BenchError(
                f"{published_db} holds segments as of {published_as_of}, expected {as_of}: "
                "the full refresh did not publish the benchmark's as-of date"
            )
        con.execute(
            "copy (select customer_key, recency_days, frequency, monetary, "
            "r_score, f_score, m_score from customer_segments "
            "where as_of_date = ? and r_score is not null) "
            f"to {sql_str(os.fspath(parquet_path))} (format parquet)",
            [as_of],
        )
        return con.execute(
            f"select count(*) from read_parquet({sql_str(os.fspath(parquet_path))})"
        ).fetchone()[0]


def rfm_settings(build_db: Path) -> dict[str, object]:
    """The RFM settings the product's run used (lookback days, scoring per dimension)."""
    with duckdb.connect(os.fspath(build_db), read_only=True) as con:
        row = con.execute(
            "select rfm_lookback_days, rfm_recency_scoring, rfm_frequency_scoring, "
            "rfm_monetary_scoring from intermediate.int_segment_settings"
        ).fetchone()
    lookback, *scoring = row
    return {"lookback_days": int(lookback), "scoring": dict(zip("rfm", scoring, strict=True))}


def transactions_on(build_db: Path, day: date) -> int:
    """Transactions the warehouse holds for one UTC day."""
    with duckdb.connect(os.fspath(build_db), read_only=True) as con:
        return con.execute(
            "select count(*) from marts.fct_transactions where transaction_date = ?", [day]
        ).fetchone()[0]
