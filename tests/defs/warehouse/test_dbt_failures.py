"""A failed dbt test explained: count, landed files, example rows (dbt_failures.py).

The test nodes are the project's own, from the manifest the test session builds; the failing
rows are real DuckDB rows in a `build.duckdb` (dbt's compiled SQL names the catalog `build`).
The compiled SQL is what dbt's `unique` test and the singular test render to.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.warehouse import dbt_failures
from pipelines.defs.warehouse.project import ensure_manifest

UNIQUE_SQL = """
select
    order_id as unique_field,
    count(*) as n_records
from "build"."staging"."stg_shopify__orders"
where order_id is not null
group by order_id
having count(*) > 1
"""
SEGMENT_SIZE_SQL = (
    'select segment, count(*) as customers from "build"."marts"."customer_segments" group by 1'
)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def _test_id(manifest: dict, name: str) -> str:
    return next(k for k, v in manifest["nodes"].items() if v["name"] == name)


@pytest.fixture()
def build_db(tmp_path: Path) -> Path:
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema staging; create schema marts")
        con.execute(
            "create table staging.stg_shopify__orders as select * from (values "
            "('5550001', '#1001', 'shopify/orders_2024-03.csv', 2), "
            "('5550002', '#1002', 'shopify/orders_2024-03.csv', 3), "
            "('5550001', '#2001', 'shopify/orders_reexport.csv', 2)"
            ") t(order_id, order_name, _source_file, _source_line)"
        )
        con.execute(
            "create table marts.customer_segments as "
            "select 'k1' as customer_key, 'Champions' as segment"
        )
    return db


def test_a_failing_unique_test_names_both_files_and_their_rows(manifest, build_db) -> None:
    uid = _test_id(manifest, "unique_stg_shopify__orders_order_id")
    results = {
        "results": [
            {"unique_id": uid, "status": "fail", "failures": 1, "compiled_code": UNIQUE_SQL},
            {"unique_id": "model.segments.customer_facts", "status": "skipped"},
        ]
    }
    [problem] = dbt_failures.explain(results, manifest, build_db)
    failure = problem.failure
    assert problem.blocking and problem.is_test
    assert failure.headline.startswith(
        "dbt test unique_stg_shopify__orders_order_id on staging/stg_shopify__orders (error): "
        "1 failing row; files: shopify/orders_2024-03.csv (1 row, line 2), "
        "shopify/orders_reexport.csv (1 row, line 2); "
    )
    assert failure.examples == (
        "shopify/orders_2024-03.csv line 2: order_id=5550001, order_name=#1001",
        "shopify/orders_reexport.csv line 2: order_id=5550001, order_name=#2001",
    )
    text = dbt_failures.summary([problem], skipped=1)
    assert text.splitlines()[0].startswith("dbt build failed: 1 test failed; 1 node downstream")
    assert failure.text() in text


def test_a_test_on_rows_without_lineage_names_its_rule_and_shows_rows(manifest, build_db) -> None:
    uid = _test_id(manifest, "assert_segments_meet_minimum_size")
    results = {
        "results": [
            {"unique_id": uid, "status": "warn", "failures": 1, "compiled_code": SEGMENT_SIZE_SQL}
        ]
    }
    [problem] = dbt_failures.explain(results, manifest, build_db)
    assert not problem.blocking
    assert "(warn): 1 failing row, computed by the models from several files; the rule: " in (
        problem.failure.headline
    )
    assert "dbt_project/tests/assert_segments_meet_minimum_size.sql" in problem.failure.headline
    assert problem.failure.examples == ("segment=Champions, customers=1",)


def test_unreadable_rows_still_give_the_count(manifest, build_db) -> None:
    uid = _test_id(manifest, "unique_stg_shopify__orders_order_id")
    broken = UNIQUE_SQL.replace("stg_shopify__orders", "no_such_table")
    results = {
        "results": [{"unique_id": uid, "status": "fail", "failures": 4, "compiled_code": broken}]
    }
    [problem] = dbt_failures.explain(results, manifest, build_db)
    assert "4 failing rows; its rows could not be read back" in problem.failure.headline


def test_an_errored_model_is_named_with_its_file(manifest, build_db) -> None:
    results = {
        "results": [
            {
                "unique_id": "model.segments.customer_facts",
                "status": "error",
                "message": "Out of Memory Error: could not allocate\nmore",
            }
        ]
    }
    [problem] = dbt_failures.explain(results, manifest, build_db)
    assert problem.failure.headline.startswith(
        "dbt model marts/customer_facts failed: Out of Memory Error: could not allocate "
        "(dbt_project/models/marts/core/customer_facts.sql). DuckDB reached its memory limit"
    )
    # what to do: the two settings that give a model more room
    assert "SEGMENTS_DUCKDB_MEMORY_LIMIT" in problem.failure.headline
    assert "SEGMENTS_AS_OF_BATCH_ROWS" in problem.failure.headline


def test_another_model_error_gets_no_memory_advice(manifest, build_db) -> None:
    results = {
        "results": [
            {
                "unique_id": "model.segments.customer_facts",
                "status": "error",
                "message": "Binder Error: column x not found",
            }
        ]
    }
    [problem] = dbt_failures.explain(results, manifest, build_db)
    assert problem.failure.headline == (
        "dbt model marts/customer_facts failed: Binder Error: column x not found "
        "(dbt_project/models/marts/core/customer_facts.sql)"
    )
