"""Runs over time: a backfill of two as-of dates, then a daily run, on the scenario data.

Checks what only several runs show: snapshots and cut-offs accumulate while customer_facts
holds the latest run, transitions count moves between consecutive snapshots, and the RFM
change date continues across runs. Also that customer keys do not depend on load order.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import query, run_dbt
from raw_fixtures import RAW_COLUMNS, scenario_rows, set_as_of_dates, write_scenario

BACKFILL = [date(2024, 5, 31), date(2024, 6, 30)]
DAILY = date(2024, 7, 1)


@pytest.fixture(scope="module")
def db(dbt_work_dir: Path) -> Path:
    path = write_scenario(dbt_work_dir / "build.duckdb", as_of_dates=BACKFILL)
    run_dbt(path, dbt_work_dir, "build")
    with duckdb.connect(str(path)) as con:
        set_as_of_dates(con, [DAILY])
    run_dbt(path, dbt_work_dir, "build")
    return path


def anna(db: Path) -> str:
    return query(
        db,
        "select customer_key from intermediate.int_customer_aliases "
        "where alias_type = 'email' and alias_value = 'anna.k@mail.com' and source = 'crm'",
    )[0][0]


def test_snapshots_and_cutoffs_keep_every_run_while_facts_hold_the_latest(db):
    snapshot_dates = query(db, "select distinct as_of_date from marts.segment_snapshots order by 1")
    cutoff_dates = query(db, "select distinct as_of_date from marts.rfm_score_cutoffs order by 1")
    fact_dates = query(db, "select distinct as_of_date from marts.customer_facts")
    assert [d for (d,) in snapshot_dates] == [*BACKFILL, DAILY]
    assert [d for (d,) in cutoff_dates] == [*BACKFILL, DAILY]
    assert fact_dates == [(DAILY,)]


def test_customers_appear_in_snapshots_only_once_known(db):
    # The JPY buyer was first seen on 2024-06-29: not in the May snapshot.
    yuki = query(
        db, "select customer_key from marts.dim_customers where email = 'yuki@example.jp'"
    )[0][0]
    dates = query(
        db,
        "select as_of_date from marts.segment_snapshots where customer_key = ? order by 1",
        [yuki],
    )
    assert [d for (d,) in dates] == [date(2024, 6, 30), DAILY]


def test_transitions_count_every_customer_between_consecutive_snapshots(db):
    rows = query(
        db,
        "select as_of_date, previous_as_of_date, sum(customers) from marts.segment_transitions "
        "where segment_family = 'lifecycle_status' group by 1, 2 order by 1",
    )
    customers_on = dict(
        query(db, "select as_of_date, count(*) from marts.segment_snapshots group by 1")
    )
    assert rows == [
        (date(2024, 6, 30), date(2024, 5, 31), customers_on[date(2024, 6, 30)]),
        (DAILY, date(2024, 6, 30), customers_on[DAILY]),
    ]


def test_rfm_change_date_continues_across_runs(db):
    key = anna(db)
    history = query(
        db,
        "select as_of_date, rfm_segment, previous_rfm_segment, rfm_segment_changed_date "
        "from marts.segment_snapshots where customer_key = ? order by 1",
        [key],
    )
    # Each row's previous segment is the row before's, and its change date the first date of
    # its run of equal segments.
    expected_changed, last_segment = None, object()
    for i, (as_of, segment, previous, changed) in enumerate(history):
        assert previous == (history[i - 1][1] if i else None)
        if segment != last_segment:
            expected_changed, last_segment = as_of, segment
        assert changed == expected_changed
    assert len(history) == 3
    current = query(
        db,
        "select previous_rfm_segment, rfm_segment_changed_date from marts.customer_segments where customer_key = ?",
        [key],
    )
    assert current == [history[-1][2:]]


def test_customer_key_does_not_depend_on_load_order(tmp_path: Path, dbt_work_dir: Path, db):
    reversed_db = tmp_path / "reversed.duckdb"
    with duckdb.connect(str(reversed_db)) as con:
        con.execute(f"attach '{db}' as original (read_only)")
        con.execute("create schema raw")
        con.execute("create schema meta")
        for table in RAW_COLUMNS:
            # Same rows, loaded in the opposite order, in later files.
            con.execute(
                f"create table raw.{table} as select * replace ("
                f"'reloaded/' || _source_file as _source_file) from original.raw.{table} "
                f"order by _source_line desc"
            )
        con.execute(
            "create table meta.run_as_of_dates as select * from original.meta.run_as_of_dates"
        )
        con.execute(
            "create table meta.customer_key_secret as "
            "select * from original.meta.customer_key_secret"
        )
    run_dbt(
        reversed_db,
        tmp_path,
        "build",
        "--select",
        "+int_customer_identity",
        "--indirect-selection",
        "cautious",
    )
    sql = "select identifier, customer_key from intermediate.int_customer_identity order by 1"
    assert query(reversed_db, sql) == query(db, sql)
    assert scenario_rows()  # the scenario is the one both builds used


HISTORY_TABLES = (
    "marts.customer_segments",
    "marts.segment_snapshots",
    "marts.segment_transitions",
    "marts.segment_profiles",
    "marts.rfm_score_cutoffs",
    "marts.customer_facts",
)


def table_fingerprints(db: Path) -> dict[str, tuple]:
    """Row count and an order-independent hash of every row, per table."""
    return {
        table: query(db, f"select count(*), bit_xor(hash(t)) from {table} t")[0]
        for table in HISTORY_TABLES
    }


def test_rerunning_the_same_as_of_date_gives_identical_tables(tmp_path: Path, db):
    again = tmp_path / "again.duckdb"
    again.write_bytes(db.read_bytes())
    run_dbt(
        again,
        tmp_path,
        "build",
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
    )
    before, after = table_fingerprints(db), table_fingerprints(again)
    assert after == before
    assert all(rows > 0 for rows, _ in after.values())
