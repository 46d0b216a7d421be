"""Intermediate models by touched key (materialization touched_incremental,
macros/touched_incremental.sql).

When files are only added, a build recomputes the keys the new files touch and leaves the
other rows alone; the result equals a full rebuild row for row, including arrivals that merge
two known customers, events older than a visitor's first one and new support tickets. What
the touched keys cannot describe rebuilds the whole table: a generic receipt with lines in a
new and an older file, a changed CRM contact, a reloaded file. Real dbt on DuckDB, on the
synthetic raw tables split into files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import query, run_dbt
from raw_fixtures import write_synthetic

MODELS = (
    "intermediate.int_event_visitors",
    "intermediate.int_identifiers_observed",
    "intermediate.int_customer_identity",
    "intermediate.int_transactions_unified",
    "intermediate.int_customer_purchase_days",
    "intermediate.int_customer_aliases",
    "intermediate.int_customer_engagement_days",
    "marts.dim_customers",
    "marts.customer_source_ids",
)
# below int_identifiers_observed, rebuilt only by changes to its own files
RECEIPTS = "intermediate.int_generic_receipts"
EVERY_MODEL = (RECEIPTS, *MODELS)
SELECT = (
    "--select",
    "+int_customer_purchase_days",
    "+int_customer_engagement_days",
    "+dim_customers",
    "+customer_source_ids",
)
# columns that say when a build ran, not what it computed
BUILD_TIME = {"intermediate.int_customer_identity": "keyed_at"}
# how each raw table is cut into four files: by a column that keeps one transaction (an
# order's lines, a receipt's lines) in one file
SPLIT = {
    "raw.shopify_orders": "order_name",
    "raw.stripe_charges": "charge_id",
    "raw.paypal_activity": "rowid",
    "raw.generic_transactions": "source_name || transaction_id",
    "raw.events": "rowid",
    "raw.support_tickets": "ticket_id",
}


def split_and_hold_back(db: Path) -> None:
    """Four files per source; file .3 of each is moved to held.<table>, to arrive later."""
    with duckdb.connect(str(db)) as con:
        con.execute("create schema held")
        for raw, column in SPLIT.items():
            con.execute(
                f"update {raw} set _source_file = _source_file || '.' || (hash({column}) % 4)"
            )
            held = "held." + raw.split(".")[1]
            con.execute(f"create table {held} as select * from {raw} where _source_file like '%.3'")
            con.execute(f"delete from {raw} where _source_file like '%.3'")


def arrive(db: Path) -> None:
    """The held files arrive (a day later), with a new Stripe file that links a known Stripe
    customer to another known customer's email, a new events file with an event years before
    a known visitor's first one, a browser logged in as a second customer, and a corrected fx
    rate."""
    with duckdb.connect(str(db)) as con:
        for raw in SPLIT:
            held = "held." + raw.split(".")[1]
            con.execute(
                f"insert into {raw} select * replace (_loaded_at + interval 1 day as _loaded_at) "
                f"from {held}"
            )
        con.execute("""
            insert into raw.stripe_charges
            select * replace (
                'ch_merge_' || charge_id as charge_id,
                (select max(email) from raw.shopify_orders where email is not null) as billing_email,
                'stripe/merge.csv' as _source_file,
                _loaded_at + interval 1 day as _loaded_at
            )
            from raw.stripe_charges
            where customer_id is not null and _source_file not like '%.3'
            order by charge_id
            limit 1
        """)
        con.execute("""
            insert into raw.events
            select * replace (
                occurred_at - interval 900 day as occurred_at,
                'events/backdated.jsonl' as _source_file,
                _loaded_at + interval 1 day as _loaded_at
            )
            from raw.events
            where email is not null and _source_file not like '%.3'
            order by occurred_at desc
            limit 3
        """)
        # a browser known as one customer's logs in as another: it is shared from now on
        con.execute("""
            insert into raw.events
            select * replace (
                (select max(email) from raw.events where email is not null) as email,
                'events/shared.jsonl' as _source_file,
                _loaded_at + interval 1 day as _loaded_at
            )
            from raw.events
            where anonymous_id is not null and email is not null and _source_file not like '%.3'
                and email <> (select max(email) from raw.events where email is not null)
            order by anonymous_id
            limit 1
        """)
        # a corrected EUR rate in the middle of the history: later EUR transactions convert anew
        con.execute("""
            insert into raw.fx_rates
            select * replace (
                rate_to_reporting * 1.25 as rate_to_reporting,
                'fx/correction.csv' as _source_file,
                _loaded_at + interval 1 day as _loaded_at
            )
            from raw.fx_rates
            where currency = 'EUR'
                and rate_date = (
                    select rate_date from raw.fx_rates where currency = 'EUR'
                    order by rate_date limit 1 offset 300
                )
        """)


def rebuilt_at(db: Path, model: str) -> object:
    return query(
        db,
        "select rebuilt_at from meta.dbt_touched_increments where model = ? and input is null",
        [model],
    )[0][0]


def assert_equal_to_a_rebuild(db: Path, dbt_work_dir: Path, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt" / db.name  # same name: the database name is in the SQL
    rebuilt.parent.mkdir()
    shutil.copy(db, rebuilt)
    run_dbt(rebuilt, dbt_work_dir, "run", *SELECT, "--full-refresh")
    for model in EVERY_MODEL:
        rows = f"select * exclude ({BUILD_TIME[model]})" if model in BUILD_TIME else "select *"
        incremental = query(db, f"{rows} from {model}")
        assert incremental  # real rows on both sides
        assert sorted(incremental, key=repr) == sorted(
            query(rebuilt, f"{rows} from {model}"), key=repr
        ), model


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory, dbt_work_dir: Path) -> Path:
    """Built once from files .0 to .2 of every source."""
    db = write_synthetic(tmp_path_factory.mktemp("touched") / "build.duckdb", transactions=2_000)
    split_and_hold_back(db)
    run_dbt(db, dbt_work_dir, "seed")
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    return db


@pytest.fixture
def db(first_build: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "build" / first_build.name
    copy.parent.mkdir()
    shutil.copy(first_build, copy)
    return copy


def test_new_files_recompute_the_touched_keys_and_equal_a_rebuild(
    db: Path, dbt_work_dir: Path, tmp_path: Path
) -> None:
    before = {model: rebuilt_at(db, model) for model in EVERY_MODEL}
    keys_before = dict(
        query(db, "select identifier, customer_key from intermediate.int_customer_identity")
    )
    arrive(db)
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    # the increment path, not a rebuild...
    assert {model: rebuilt_at(db, model) for model in EVERY_MODEL} == before
    # ... that gives what a rebuild gives
    assert_equal_to_a_rebuild(db, dbt_work_dir, tmp_path)
    # the new Stripe charge merged two known customers: their identifiers were rekeyed, and
    # keyed_at moved past the first build's for exactly the known identifiers whose key changed
    rows = query(
        db, "select identifier, customer_key, keyed_at from intermediate.int_customer_identity"
    )
    first_build = min(keyed_at for _, _, keyed_at in rows)
    rekeyed = {i for i, key, _ in rows if i in keys_before and keys_before[i] != key}
    assert rekeyed
    assert {i for i, _, at in rows if i in keys_before and at > first_build} == rekeyed
    # the new files are consumed: a second build with nothing new changes nothing
    rows = {model: query(db, f"select count(*) from {model}") for model in EVERY_MODEL}
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    assert {model: query(db, f"select count(*) from {model}") for model in EVERY_MODEL} == rows
    assert {model: rebuilt_at(db, model) for model in EVERY_MODEL} == before


def test_a_receipt_across_an_old_and_a_new_file_rebuilds(
    db: Path, dbt_work_dir: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(db)) as con:
        # a larger line of a known receipt in a new file: the receipt's identifiers may change
        con.execute("""
            insert into raw.generic_transactions
            select * replace (
                amount * 10 + 100 as amount,
                'other@example.com' as email,
                'generic/pos/late.csv' as _source_file,
                _loaded_at + interval 1 day as _loaded_at
            )
            from raw.generic_transactions
            order by transaction_id
            limit 1
        """)
    before = rebuilt_at(db, "intermediate.int_identifiers_observed")
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    assert rebuilt_at(db, "intermediate.int_identifiers_observed") != before
    assert_equal_to_a_rebuild(db, dbt_work_dir, tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        # a CRM file changes a contact's phone: CRM is read whole, so any change rebuilds
        "insert into raw.crm_contacts select * replace ('+48999000111' as phone, "
        "'crm/update.csv' as _source_file, _loaded_at + interval 1 day as _loaded_at) "
        "from raw.crm_contacts where email = (select min(email) from raw.crm_contacts)",
        # an events file reloaded: its old version is gone
        "update raw.events set _loaded_at = _loaded_at + interval 2 day "
        "where _source_file = (select min(_source_file) from raw.events)",
    ],
    ids=["crm contact changed", "file reloaded"],
)
def test_what_keys_cannot_describe_rebuilds(db: Path, dbt_work_dir: Path, change: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(change)
    # int_identifiers_observed and every model above it (its rebuild is in their fingerprints)
    above = MODELS[1:]
    before = {model: rebuilt_at(db, model) for model in above}
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    assert all(rebuilt_at(db, model) != before[model] for model in above)


def test_a_rebuild_below_a_view_rebuilds_the_models_reading_it(
    db: Path, dbt_work_dir: Path
) -> None:
    # dim_customers reads int_transactions_unified through the fct_transactions view; a
    # rebuild of unified (its state emptied, as docs/operations.md says to force one) sends
    # no log entries, so dim_customers must see it in its fingerprint
    with duckdb.connect(str(db)) as con:
        con.execute(
            "delete from meta.dbt_touched_increments "
            "where model = 'intermediate.int_transactions_unified'"
        )
    below = (RECEIPTS, *MODELS[:3])
    before = {m: rebuilt_at(db, m) for m in ("marts.dim_customers", *below)}
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    assert rebuilt_at(db, "marts.dim_customers") != before["marts.dim_customers"]
    # the models below unified and beside it were not rebuilt
    assert {m: rebuilt_at(db, m) for m in below} == {m: before[m] for m in below}


def test_a_rebuild_of_the_receipts_rebuilds_the_readers_of_the_transactions_view(
    db: Path, dbt_work_dir: Path, tmp_path: Path
) -> None:
    # int_identifiers_observed and int_transactions_unified read the receipts through the
    # int_transactions_unioned view: a rebuild of the receipts must rebuild both
    with duckdb.connect(str(db)) as con:
        con.execute(f"delete from meta.dbt_touched_increments where model = '{RECEIPTS}'")
    readers = ("intermediate.int_identifiers_observed", "intermediate.int_transactions_unified")
    before = {m: rebuilt_at(db, m) for m in readers}
    run_dbt(db, dbt_work_dir, "run", *SELECT)
    assert all(rebuilt_at(db, m) != before[m] for m in readers)
    assert_equal_to_a_rebuild(db, dbt_work_dir, tmp_path)
