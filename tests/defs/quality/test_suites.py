"""The suite files in expectations/: each loads, passes conforming rows, and blocks bad ones."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from pipelines import settings
from pipelines.defs.quality.checks import MART_TARGETS, RAW_TABLE_SOURCES, RAW_TARGETS
from pipelines.defs.quality.gx_checks import suite_parameters
from pipelines.lib import gx

from .contract import RAW_COLUMNS, raw_frame, valid_row

PARAMS = suite_parameters(settings.load(), today=date(2024, 3, 6))
SUITES = {t.table: t.suite_path for t in RAW_TARGETS}


def test_every_raw_table_of_the_contract_has_a_suite() -> None:
    assert set(RAW_TABLE_SOURCES) == set(RAW_COLUMNS)
    assert all(path.exists() for path in SUITES.values())


@pytest.mark.parametrize("table", sorted(RAW_COLUMNS))
def test_raw_suite_passes_a_conforming_frame(table: str) -> None:
    rows = [valid_row(table), valid_row(table, _source_line=3)]
    if table in ("stripe_charges", "paypal_activity", "support_tickets"):
        key = {
            "stripe_charges": "charge_id",
            "paypal_activity": "transaction_id",
            "support_tickets": "ticket_id",
        }[table]
        rows[1][key] = rows[1][key] + "-2"
    if table == "shopify_orders":
        rows[1]["line_number_in_order"] = 2
    if table == "fx_rates":
        rows[1]["currency"] = "GBP"
    if table == "generic_transactions":
        rows[1]["transaction_id"] = "pos-2"

    result = gx.validate_dataframe(raw_frame(table, rows), SUITES[table], parameters=PARAMS)

    assert result.success, gx.failures_markdown(result)
    assert result.evaluated >= 10


# (table, a breaking change to one row, the critical rule that must catch it)
BREAKS = [
    ("shopify_orders", {"currency": "XXX"}, ("expect_column_values_to_be_in_set", "currency")),
    ("shopify_orders", {"total": -1}, ("expect_column_values_to_be_between", "total")),
    (
        "shopify_orders",
        {"financial_status": "lost"},
        ("expect_column_values_to_be_in_set", "financial_status"),
    ),
    (
        "stripe_charges",
        {"created_at": datetime(2024, 3, 7, 0, 0)},
        ("expect_column_values_to_be_between", "created_at"),
    ),
    (
        "stripe_charges",
        {"amount_refunded_minor": 5000},
        ("expect_column_pair_values_a_to_be_greater_than_b", "amount_minor, amount_refunded_minor"),
    ),
    (
        "paypal_activity",
        {"transaction_id": None},
        ("expect_column_values_to_not_be_null", "transaction_id"),
    ),
    ("paypal_activity", {"gross": 20_000_000}, ("expect_column_values_to_be_between", "gross")),
    (
        "crm_contacts",
        {"_partition_date": date(2019, 12, 31)},
        ("expect_column_values_to_be_between", "_partition_date"),
    ),
    (
        "fx_rates",
        {"rate_to_reporting": 0},
        ("expect_column_values_to_be_between", "rate_to_reporting"),
    ),
    ("events", {"occurred_at": None}, ("expect_column_values_to_not_be_null", "occurred_at")),
    (
        "support_tickets",
        {"_source_file": None},
        ("expect_column_values_to_not_be_null", "_source_file"),
    ),
    (
        "generic_transactions",
        {"currency": None},
        ("expect_column_values_to_not_be_null", "currency"),
    ),
]


@pytest.mark.parametrize(
    ("table", "change", "rule"), BREAKS, ids=[f"{t}-{next(iter(c))}" for t, c, _ in BREAKS]
)
def test_raw_suite_blocks_a_broken_row(table: str, change: dict, rule: tuple[str, str]) -> None:
    result = gx.validate_dataframe(
        raw_frame(table, [valid_row(table, **change)]), SUITES[table], parameters=PARAMS
    )

    blocking = result.only(gx.BLOCKING_SEVERITY)
    assert rule in {(f.expectation_type, f.column) for f in blocking.failed}, gx.failures_markdown(
        result
    )


def test_duplicate_ids_block_and_name_the_id() -> None:
    rows = [valid_row("stripe_charges"), valid_row("stripe_charges", _source_line=3)]

    result = gx.validate_dataframe(
        raw_frame("stripe_charges", rows), SUITES["stripe_charges"], parameters=PARAMS
    )

    (dupe,) = [
        f for f in result.failed if f.expectation_type == "expect_column_values_to_be_unique"
    ]
    assert dupe.blocking and dupe.unexpected_count == 2 and dupe.examples == (("ch_1", 2),)


def test_missing_emails_only_warn() -> None:
    rows = [
        valid_row("shopify_orders", email=None, _source_line=n, line_number_in_order=n)
        for n in (2, 3)
    ]

    result = gx.validate_dataframe(
        raw_frame("shopify_orders", rows), SUITES["shopify_orders"], parameters=PARAMS
    )

    assert result.only(gx.BLOCKING_SEVERITY).success
    assert [(f.column, f.unexpected_count) for f in result.only("warning").failed] == [("email", 2)]


def _mart_frame(sql: str):
    with duckdb.connect() as con:
        return con.execute(sql).df()


SEGMENTS_SQL = """
    SELECT * FROM (VALUES
        ('c1', DATE '2024-03-05', 3, 9, 420.50, 5, 5, 4, 5, 'Champions'),
        ('c2', DATE '2024-03-05', 600, 1, 12.00, 1, 1, 2, 2, 'Lost'),
        ('c3', DATE '2024-03-05', 90, 2, 80.00, 3, 2, 3, 3, 'Need Attention'),
        -- a prospect: known contact, no purchase in the lookback window, so no RFM
        ('c4', DATE '2024-03-05', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
    ) AS t(customer_key, as_of_date, recency_days, frequency, monetary,
           r_score, f_score, m_score, fm_score, rfm_segment)
"""


def _segments(**replacements: str):
    sql = SEGMENTS_SQL
    for old, new in replacements.items():
        sql = sql.replace(old, new)
    return _mart_frame(sql)


def test_mart_suites_pass_conforming_frames() -> None:
    suites = {t.table: t.suite_path for t in MART_TARGETS}
    cutoffs_sql = """
        SELECT * FROM (VALUES
            (DATE '2024-03-05', 'recency', 5, 0.0, 30.0, 12, 'quintile', 730),
            (DATE '2024-03-05', 'recency', 4, 31.0, 90.0, 12, 'quintile', 730),
            (DATE '2024-03-05', 'monetary', 1, 0.0, 12.5, 12, 'quintile', 730)
        ) AS t(as_of_date, dimension, score, min_value, max_value, customers, scoring_method,
               lookback_days)
    """

    segments = gx.validate_dataframe(_segments(), suites["customer_segments"], parameters=PARAMS)
    cutoffs = gx.validate_dataframe(
        _mart_frame(cutoffs_sql), suites["rfm_score_cutoffs"], parameters=PARAMS
    )

    assert segments.success, gx.failures_markdown(segments)
    assert cutoffs.success, gx.failures_markdown(cutoffs)


def test_mart_suite_blocks_bad_scores_unknown_segments_and_unsegmented_customers() -> None:
    suite = next(t.suite_path for t in MART_TARGETS if t.table == "customer_segments")
    bad = _segments(
        **{
            "'Lost'": "'Sleepy'",
            "5, 5, 4, 5, 'Champions'": "6, 5, 4, 5, 'Champions'",
            "3, 2, 3, 3, 'Need Attention'": "3, 2, 3, 3, NULL",
        }
    )

    result = gx.validate_dataframe(bad, suite, parameters=PARAMS)

    failures = {(f.expectation_type, f.column): f for f in result.only("critical").failed}
    assert set(failures) == {
        ("expect_column_values_to_be_in_set", "rfm_segment"),
        ("expect_column_values_to_be_between", "r_score"),
        ("expect_column_values_to_not_be_null", "rfm_segment"),
    }
    assert failures[("expect_column_values_to_be_in_set", "rfm_segment")].examples == (
        ("Sleepy", 1),
    )
    assert failures[("expect_column_values_to_be_between", "r_score")].examples == (("6", 1),)
    # Only scored customers must have a segment: the prospect (c4) is not counted.
    assert failures[("expect_column_values_to_not_be_null", "rfm_segment")].unexpected_count == 1


def test_ingest_writes_the_raw_tables_the_contract_states():
    """The readers' column lists (pipelines/defs/ingest) are the contract, name, order, type."""
    from pipelines.defs.ingest.loader import SOURCES, get_spec

    written = {get_spec(s).table: dict(get_spec(s).columns) for s in SOURCES}
    assert written == RAW_COLUMNS
    assert [list(c) for c in written.values()] == [list(c) for c in RAW_COLUMNS.values()]
