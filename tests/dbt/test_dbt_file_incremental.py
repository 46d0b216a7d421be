"""Staging by landed file (materialization file_incremental, macros/file_incremental.sql).

A second build redoes only the files whose rows changed in raw (loaded, reloaded, unloaded)
and the result equals a full rebuild row for row; a changed fingerprint (the model's SQL, a
seed, the raw table's columns) rebuilds the whole table. Real dbt on DuckDB, on the synthetic
raw tables split into four files per source.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import query, run_dbt
from raw_fixtures import write_synthetic

STAGING = ("--select", "path:models/staging")
# (raw table, staging models reading it) for every file_incremental model
FILE_INCREMENTAL = {
    "raw.events": ("staging.stg_events__events",),
    "raw.generic_transactions": ("staging.stg_generic__transaction_lines",),
    "raw.paypal_activity": ("staging.stg_paypal__payments", "staging.stg_paypal__reversals"),
    "raw.shopify_orders": ("staging.stg_shopify__orders", "staging.stg_shopify__order_lines"),
    "raw.stripe_charges": ("staging.stg_stripe__charges",),
    "raw.support_tickets": ("staging.stg_support__tickets",),
}
MODELS = [m for models in FILE_INCREMENTAL.values() for m in models]


def split_into_files(db: Path) -> None:
    """Four files per source: `<file>` becomes `<file>.0` .. `<file>.3` by row."""
    with duckdb.connect(str(db)) as con:
        for raw in FILE_INCREMENTAL:
            con.execute(f"update {raw} set _source_file = _source_file || '.' || rowid % 4")


def change_files(db: Path) -> None:
    """What loads and unloads do to raw: file .0 unloaded, .1 reloaded with a new _loaded_at
    and fewer rows, .2 reloaded with the same rows under a new _loaded_at, a new file added."""
    with duckdb.connect(str(db)) as con:
        for raw in FILE_INCREMENTAL:
            files = [
                r[0]
                for r in con.execute(
                    f"select distinct _source_file from {raw} order by 1"
                ).fetchall()
            ]
            f0, f1, f2 = (next(f for f in files if f.endswith(f".{i}")) for i in range(3))
            con.execute(f"delete from {raw} where _source_file = ?", [f0])
            con.execute(f"delete from {raw} where _source_file = ? and _source_line % 3 = 0", [f1])
            con.execute(
                f"update {raw} set _loaded_at = _loaded_at + interval 1 day "
                "where _source_file in (?, ?)",
                [f1, f2],
            )
            con.execute(
                f"insert into {raw} select * replace (_source_file || '.new' as _source_file, "
                "_loaded_at + interval 2 day as _loaded_at) "
                f"from {raw} where _source_file = ? and _source_line % 2 = 0",
                [f2],
            )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, dbt_work_dir: Path) -> dict[str, Path]:
    """`incremental`: built, files changed, built again; `rebuilt`: the same raw rows built
    from scratch."""
    base = tmp_path_factory.mktemp("file_incremental")
    db = write_synthetic(base / "incremental.duckdb", transactions=2_000)
    split_into_files(db)
    run_dbt(db, dbt_work_dir, "seed")
    first = run_dbt(db, dbt_work_dir, "run", *STAGING).stdout
    assert "file_incremental model staging.stg_events__events" in first
    change_files(db)
    rebuilt = base / "rebuilt.duckdb"
    shutil.copy(db, rebuilt)
    run_dbt(db, dbt_work_dir, "run", *STAGING)
    run_dbt(rebuilt, dbt_work_dir, "run", *STAGING, "--full-refresh")
    return {"incremental": db, "rebuilt": rebuilt}


@pytest.mark.parametrize("model", MODELS)
def test_incremental_build_equals_a_full_rebuild(built: dict[str, Path], model: str) -> None:
    incremental = query(built["incremental"], f"select * from {model}")
    rebuilt = query(built["rebuilt"], f"select * from {model}")
    assert incremental  # real rows on both sides
    assert sorted(incremental, key=repr) == sorted(rebuilt, key=repr)


def test_state_records_each_file_version(built: dict[str, Path]) -> None:
    db = built["incremental"]
    for raw, models in FILE_INCREMENTAL.items():
        versions = query(
            db,
            f"select _source_file, max(_loaded_at), count(*) from {raw} group by 1 order by 1",
        )
        assert any(f.endswith(".new") for f, _, _ in versions)
        assert not any(f.endswith(".0") for f, _, _ in versions)
        for model in models:
            state = query(
                db,
                "select source_file, loaded_at, row_count from meta.dbt_file_increments "
                "where model = ? and source_file is not null order by 1",
                [model],
            )
            assert state == versions, model


def test_an_unchanged_build_leaves_rows_alone_and_a_new_fingerprint_rebuilds(
    built: dict[str, Path], dbt_work_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / built["incremental"].name  # same name: the database name is in the SQL
    shutil.copy(built["incremental"], db)
    model = "staging.stg_events__events"
    before = query(db, f"select count(*) from {model}")[0][0]
    # rows removed behind dbt's back stay removed while no file changed (nothing is redone)...
    with duckdb.connect(str(db)) as con:
        con.execute(f"delete from {model} where rowid % 5 = 0")
    run_dbt(db, dbt_work_dir, "run", "--select", "stg_events__events")
    after_noop = query(db, f"select count(*) from {model}")[0][0]
    assert after_noop < before
    # ... and come back when the table was built with another fingerprint (new SQL, seed or
    # raw columns): the whole table is rebuilt
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update meta.dbt_file_increments set fingerprint = 'older' where model = ?", [model]
        )
    run_dbt(db, dbt_work_dir, "run", "--select", "stg_events__events")
    assert query(db, f"select count(*) from {model}")[0][0] == before
    assert sorted(query(db, f"select * from {model}"), key=repr) == sorted(
        query(built["rebuilt"], f"select * from {model}"), key=repr
    )


def test_a_file_table_is_computed_again_only_when_a_file_of_its_source_changed(
    built: dict[str, Path], dbt_work_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / built["incremental"].name
    shutil.copy(built["incremental"], db)
    model = "staging.stg_crm__contacts"
    select = ("--select", "stg_crm__contacts")
    before = query(db, f"select count(*) from {model}")[0][0]
    assert before
    # no CRM file changed: the table is kept as it is (rows removed behind dbt's back stay so)
    with duckdb.connect(str(db)) as con:
        con.execute(f"delete from {model} where rowid % 5 = 0")
    run_dbt(db, dbt_work_dir, "run", *select)
    assert query(db, f"select count(*) from {model}")[0][0] < before
    # a CRM file arrives: computed whole again, equal to a full rebuild
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw.crm_contacts select * replace ('+48111222333' as phone, "
            "'crm/update.csv' as _source_file) from raw.crm_contacts where rowid % 9 = 0"
        )
    rebuilt = tmp_path / "rebuilt" / db.name
    rebuilt.parent.mkdir()
    shutil.copy(db, rebuilt)
    run_dbt(db, dbt_work_dir, "run", *select)
    run_dbt(rebuilt, dbt_work_dir, "run", *select, "--full-refresh")
    rows = query(db, f"select * from {model}")
    assert len(rows) == before
    assert sorted(rows, key=repr) == sorted(query(rebuilt, f"select * from {model}"), key=repr)
