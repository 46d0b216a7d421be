"""History grows incrementally: built date by date (or in batches) it equals a from-scratch
rebuild of the same dates, row for row; a first refresh whose customer histories are computed
in batches of as-of dates (materialization as_of_table) equals one computed in one pass; and a
backfill of past dates never moves the present (customer_segments) back.

Real dbt on DuckDB, on a small synthetic data set (raw_fixtures.write_synthetic: two years up
to 2024-06-30, ~1,000 customers) so that RFM quintiles, transitions and profiles have real
content on every date.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import query, run_dbt
from raw_fixtures import set_as_of_dates, write_synthetic

# Month-ends and the last days of the data, as a first refresh and its daily runs would have.
DATES = [
    date(2023, 10, 31),
    date(2023, 11, 30),
    date(2023, 12, 31),
    date(2024, 1, 31),
    date(2024, 2, 29),
    date(2024, 3, 31),
    date(2024, 4, 30),
    date(2024, 5, 31),
    date(2024, 6, 28),
    date(2024, 6, 29),
    date(2024, 6, 30),
]
# The incremental build: a first refresh, a backfill batch, then daily runs (increasing order).
BATCHES = [DATES[:4], DATES[4:8], DATES[8:9], DATES[9:10], DATES[10:]]

# Every table that keeps history across runs (incremental on as_of_date), and the current view.
HISTORY_TABLES = (
    "marts.segment_snapshots",
    "marts.segment_transitions",
    "marts.segment_profiles",
    "marts.rfm_score_cutoffs",
    "marts.segment_settings_used",
    "marts.customer_segments",
)

NO_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


# The customer histories, built in batches of customers (every date in each) when a run's
# customers x dates do not fit in one batch (materialization as_of_table, as_of_batch_by).
CUSTOMER_BATCHED_TABLES = (
    "intermediate.int_customer_purchase_history",
    "intermediate.int_customer_engagement_history",
    "intermediate.int_customer_support_history",
)
# The models built in batches of as-of dates.
DATE_BATCHED_TABLES = (
    "intermediate.int_rfm_values",
    "marts.customer_facts",
    "marts.rfm_scores",
)
AS_OF_TABLES = CUSTOMER_BATCHED_TABLES + DATE_BATCHED_TABLES
# ... and the incremental history tables built the same way (materialization as_of_incremental)
AS_OF_INCREMENTAL_TABLES = (
    "marts.segment_snapshots",
    "marts.segment_profiles",
    "marts.segment_transitions",
)


def build(db: Path, work_dir: Path, dates: list[date], env: dict[str, str] | None = None) -> str:
    with duckdb.connect(str(db)) as con:
        set_as_of_dates(con, dates)
    return run_dbt(db, work_dir, "build", *NO_TESTS, env=env).stdout


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(
        tmp_path_factory.mktemp("landed") / "landed.duckdb", transactions=8_000, as_of_dates=DATES
    )


@pytest.fixture(scope="module")
def scratch_db(raw_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every date in one run, from an empty warehouse."""
    work = tmp_path_factory.mktemp("scratch")
    db = work / "build.duckdb"
    shutil.copy(raw_db, db)
    build(db, work, DATES)
    return db


@pytest.fixture(scope="module")
def incremental_db(raw_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same dates, one batch per run, oldest first."""
    work = tmp_path_factory.mktemp("incremental")
    db = work / "build.duckdb"
    shutil.copy(raw_db, db)
    for batch in BATCHES:
        build(db, work, batch)
    return db


@pytest.fixture(scope="module")
def batched_db(raw_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every date in one run, the history models computed a few dates (or customers) at a time."""
    work = tmp_path_factory.mktemp("batched")
    db = work / "build.duckdb"
    shutil.copy(raw_db, db)
    log = build(db, work, DATES, env={"SEGMENTS_AS_OF_BATCH_ROWS": str(BATCH_ROWS)})
    (work / "dbt.log").write_text(log)
    return db


@pytest.fixture(scope="module")
def batched_incremental_db(raw_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A first refresh and a later range run (a backfill), each computed in batches of dates."""
    work = tmp_path_factory.mktemp("batched_incremental")
    db = work / "build.duckdb"
    shutil.copy(raw_db, db)
    env = {"SEGMENTS_AS_OF_BATCH_ROWS": str(BATCH_ROWS)}
    build(db, work, DATES[:4], env=env)
    build(db, work, DATES[4:], env=env)
    return db


def customers(db: Path) -> int:
    return query(db, "select count(distinct customer_key) from intermediate.int_customer_identity")[
        0
    ][0]


# Rows per batch: three as-of dates of every customer (the fixture has ~1,000).
BATCH_ROWS = 3_000


def differences(db: Path, other: Path, table: str, where: str = "true") -> tuple[int, int, int]:
    """(rows in db, rows only in db, rows only in other), as multisets."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"attach '{other}' as other (read_only)")
        rows = con.execute(f"select count(*) from {table} where {where}").fetchone()[0]
        only_here = con.execute(
            f"select count(*) from (select * from {table} where {where} "
            f"except all select * from other.{table} where {where})"
        ).fetchone()[0]
        only_there = con.execute(
            f"select count(*) from (select * from other.{table} where {where} "
            f"except all select * from {table} where {where})"
        ).fetchone()[0]
    return rows, only_here, only_there


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_incremental_history_equals_a_rebuild_row_for_row(scratch_db, incremental_db, table):
    rows, only_incremental, only_rebuild = differences(incremental_db, scratch_db, table)
    assert rows > 0
    assert (only_incremental, only_rebuild) == (0, 0)


def test_history_holds_every_date_once(incremental_db):
    dates = query(
        incremental_db, "select distinct as_of_date from marts.segment_snapshots order by 1"
    )
    assert [d for (d,) in dates] == DATES
    transition_dates = query(
        incremental_db, "select distinct as_of_date from marts.segment_transitions order by 1"
    )
    assert [d for (d,) in transition_dates] == DATES[1:]


def written(db: Path) -> dict[tuple[str, date], str]:
    """dbt's write log (macro log_as_of_dates_written): (table, date) → write id."""
    rows = query(db, "select relation, as_of_date, written_in from meta.as_of_dates_written")
    return {(relation, day): write for relation, day, write in rows}


def test_the_write_log_names_every_date_of_the_incremental_history_once(incremental_db):
    log = written(incremental_db)
    for table in AS_OF_INCREMENTAL_TABLES:
        # every run's dates, with rows or not (the first date has no transitions)
        assert sorted(d for t, d in log if t == table) == DATES, table
    # one id per write: dates of different runs never share one
    assert len(set(log.values())) == len(log)


def test_customer_facts_of_a_run_equal_the_rebuilds_rows_of_those_dates(scratch_db, incremental_db):
    # customer_facts holds the last run's dates only; its rows do not depend on the batch.
    last = BATCHES[-1]
    assert query(incremental_db, "select distinct as_of_date from marts.customer_facts") == [
        (d,) for d in last
    ]
    in_last = "as_of_date in (" + ", ".join(f"date '{d}'" for d in last) + ")"
    rows, only_incremental, only_rebuild = differences(
        incremental_db, scratch_db, "marts.customer_facts", in_last
    )
    assert rows > 0
    assert (only_incremental, only_rebuild) == (0, 0)


def test_a_backfill_of_an_earlier_date_never_moves_the_present_back(incremental_db, tmp_path: Path):
    db = tmp_path / "build.duckdb"
    shutil.copy(incremental_db, db)
    present = query(db, "select count(*), bit_xor(hash(t)) from marts.customer_segments t")
    earlier = date(2023, 6, 30)  # before every date built so far
    before = written(db)
    build(db, tmp_path, [earlier])

    # the write log gives the backfilled date an id and keeps every other date's: the
    # publish hashes that date only
    after = written(db)
    assert {k: v for k, v in after.items() if k[1] != earlier} == before
    assert {k for k in after if k[1] == earlier} == {(t, earlier) for t in AS_OF_INCREMENTAL_TABLES}
    assert query(db, "select distinct as_of_date from marts.customer_segments") == [(DATES[-1],)]
    assert query(db, "select count(*), bit_xor(hash(t)) from marts.customer_segments t") == present
    dates = query(db, "select distinct as_of_date from marts.segment_snapshots order by 1")
    assert [d for (d,) in dates] == [earlier, *DATES]
    # the backfill added its own date and left every later one as it was
    for table in HISTORY_TABLES[:-1]:
        later = f"as_of_date > date '{earlier}'"
        rows, only_here, only_before = differences(db, incremental_db, table, later)
        assert (only_here, only_before) == (0, 0), table


def test_the_fixture_makes_several_batches(batched_db):
    # 11 dates of 3 (or 2, 4: budget // customers) per batch, and the histories in ~4 batches of
    # customers: the tests below mean something
    population = customers(batched_db)
    per_batch = max(BATCH_ROWS // population, 1)
    assert 1 <= per_batch < len(DATES) / 2
    batches = -(-len(DATES) // per_batch)
    customer_batches = -(-population * len(DATES) // BATCH_ROWS)
    assert customer_batches >= 3
    log = (batched_db.parent / "dbt.log").read_text()
    for table in DATE_BATCHED_TABLES + AS_OF_INCREMENTAL_TABLES:
        name = table.split(".")[1]
        # customer_facts takes half the budget (config as_of_batch_share)
        own = batches
        if name == "customer_facts":
            own = -(-len(DATES) // max(BATCH_ROWS // 2 // population, 1))
            assert own > batches
        assert f"{name}: {len(DATES)} as-of dates in {own} batch(es) of at most" in log, name
    for table in CUSTOMER_BATCHED_TABLES:
        name = table.split(".")[1]
        assert (
            f"{name}: {len(DATES)} as-of dates in {customer_batches} batch(es) of customers" in log
        ), name


def test_batches_of_customers_write_their_rows_in_date_order(batched_db):
    # each batch of customers is one run of rows in as-of-date order: the date changes at most
    # (dates - 1) times per batch, so readers of a few dates skip the other row groups
    for table in CUSTOMER_BATCHED_TABLES:
        changes = query(
            batched_db,
            f"select count(*) from (select as_of_date, lag(as_of_date) over (order by rowid) "
            f"as previous from {table}) where as_of_date < previous",
        )[0][0]
        batches = -(-customers(batched_db) * len(DATES) // BATCH_ROWS)
        # a date lower than the row before it only where a batch starts
        assert 1 <= changes <= batches - 1, table


@pytest.mark.parametrize("table", AS_OF_TABLES + HISTORY_TABLES)
def test_a_first_refresh_in_batches_of_dates_equals_one_pass(scratch_db, batched_db, table):
    rows, only_batched, only_one_pass = differences(batched_db, scratch_db, table)
    assert rows > 0
    assert (only_batched, only_one_pass) == (0, 0)


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_incremental_runs_in_batches_of_dates_equal_a_rebuild(
    scratch_db, batched_incremental_db, table
):
    rows, only_batched, only_rebuild = differences(batched_incremental_db, scratch_db, table)
    assert rows > 0
    assert (only_batched, only_rebuild) == (0, 0)


def test_a_history_from_before_the_write_log_gets_an_id_for_every_date(
    incremental_db, tmp_path: Path
):
    """A warehouse built before the log existed: its next run logs every date its history
    tables hold (each hashed once more by the publish), not only the run's own."""
    db = tmp_path / "build.duckdb"
    shutil.copy(incremental_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("drop table meta.as_of_dates_written")
    build(db, tmp_path, DATES[-1:])

    log = written(db)
    for table in AS_OF_INCREMENTAL_TABLES:
        dates = [d for (d,) in query(db, f"select distinct as_of_date from {table} order by 1")]
        assert sorted(d for t, d in log if t == table) == dates, table
