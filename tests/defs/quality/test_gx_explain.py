"""A failed GX expectation explained with the rows behind its metric (gx_explain.py), on a
real DuckDB table and the project's own Shopify suite (its bounds)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from pipelines.defs.quality.gx_explain import explain_failures
from pipelines.lib.gx import FailedExpectation
from pipelines.settings import EXPECTATIONS_DIR

SUITE = EXPECTATIONS_DIR / "raw_shopify_orders.json"
EARLIER, RUN = datetime(2026, 9, 1), datetime(2026, 9, 30)


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.shopify_orders as select * from (values "
        "('#1', 1, 'a@x.com', 10.0, 'shopify/old.csv', 2, ?::timestamp), "  # earlier load
        "('#2', 1, null, -5.0, 'shopify/new.csv', 2, ?::timestamp), "
        "('#2', 1, null, 7.0, 'shopify/new.csv', 3, ?::timestamp), "
        "('#3', 1, null, 8.0, 'shopify/other.csv', 2, ?::timestamp), "
        "('#4', 1, 'b@x.com', 9.0, 'shopify/other.csv', 3, ?::timestamp)"
        ") t(order_name, line_number_in_order, email, total, _source_file, _source_line, "
        "_loaded_at)",
        [EARLIER, RUN, RUN, RUN, RUN],
    )
    yield con
    con.close()


def _failed(metric: str, observed: str, expected: str) -> FailedExpectation:
    return FailedExpectation(
        "expect_column_values_to_be_between",
        metric,
        "critical",
        None,
        None,
        None,
        observed_value=observed,
        expected=expected,
    )


def _explain(con, *failed: FailedExpectation):
    return explain_failures(
        con,
        relation="raw.shopify_orders",
        batch_where="_loaded_at >= ?",
        batch_params=[RUN],
        suite_path=SUITE,
        parameters={},
        failed=failed,
        batch_label="the batch",
    )


def test_null_share_names_the_rows_without_the_value_and_their_files(con) -> None:
    [failure] = _explain(con, _failed("null_share(email)", "0.75", "<= 0.5"))
    assert failure.subject == "null_share(email) = 0.75, expected <= 0.5"
    assert failure.detail.startswith(
        "3 rows of 4 in the batch break it; files: shopify/new.csv (2 rows, first line 2), "
        "shopify/other.csv (1 row, line 2); "
    )
    assert failure.examples[0].startswith(
        "shopify/new.csv line 2: order_name=#2, line_number_in_order=1, email=null, total=-5"
    )
    assert len(failure.examples) == 3


def test_min_and_duplicates_name_exactly_the_offending_rows(con) -> None:
    low, dup = _explain(
        con,
        _failed("min(total)", "-5.0", ">= 0"),
        _failed("duplicates(order_name, line_number_in_order)", "1", "<= 0"),
    )
    assert low.detail.startswith("1 row of 4 in the batch breaks it; files: shopify/new.csv (1 row")
    assert [e.split(":")[0] for e in dup.examples] == [
        "shopify/new.csv line 2",
        "shopify/new.csv line 3",
    ]
    assert dup.detail.startswith("2 rows of 4 in the batch break it")


def test_an_aggregate_metric_lists_the_files_of_the_batch(con) -> None:
    [failure] = _explain(con, _failed("rows_per_day_vs_baseline", "58.6", ">= 0.2 and <= 5"))
    assert failure.detail.startswith(
        "4 rows in the batch; files: shopify/new.csv (2 rows, first line 2), "
        "shopify/other.csv (2 rows, first line 2)"
    )
