"""pipelines/defs/quality/revenue.py: raw revenue vs fct_transactions, real DuckDB files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.quality import revenue as rev

from .contract import DAY, create_raw_table, valid_row


@pytest.fixture()
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        yield con


def _fct(con, rows: list[tuple]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        f"CREATE OR REPLACE TABLE marts.fct_transactions ({rev.FCT_SOURCE} VARCHAR, "
        f"{rev.FCT_DATE} DATE, {rev.FCT_CURRENCY} VARCHAR, {rev.FCT_GROSS} DECIMAL(18,2))"
    )
    con.executemany("INSERT INTO marts.fct_transactions VALUES (?, ?, ?, ?)", rows)


def _revenue_raw(con) -> None:
    create_raw_table(
        con,
        "shopify_orders",
        [
            valid_row("shopify_orders", order_name="#1", total=50, line_number_in_order=1),
            # A second line repeats the order's total: it must not count twice.
            valid_row(
                "shopify_orders", order_name="#1", total=50, line_number_in_order=2, _source_line=3
            ),
            valid_row(
                "shopify_orders",
                order_name="#2",
                total=70,
                financial_status="voided",
                _source_line=4,
            ),
        ],
    )
    create_raw_table(
        con,
        "stripe_charges",
        [
            valid_row("stripe_charges", charge_id="ch_1", amount_minor=1999, currency="USD"),
            valid_row(
                "stripe_charges",
                charge_id="ch_2",
                amount_minor=5000,
                currency="JPY",
                _source_line=3,
            ),
            valid_row(
                "stripe_charges",
                charge_id="ch_3",
                amount_minor=999,
                status="failed",
                _source_line=4,
            ),
        ],
    )
    create_raw_table(
        con,
        "paypal_activity",
        [
            valid_row("paypal_activity", transaction_id="P1", gross=1234.56, currency="GBP"),
            # Its refund is a negative line: not revenue.
            valid_row(
                "paypal_activity",
                transaction_id="R1",
                reference_transaction_id="P1",
                type="Payment Refund",
                gross=-34.56,
                _source_line=3,
            ),
            valid_row(
                "paypal_activity", transaction_id="P2", gross=10, status="Pending", _source_line=4
            ),
        ],
    )
    create_raw_table(
        con,
        "generic_transactions",
        [
            valid_row("generic_transactions", transaction_id="r1", amount=12.5, currency="JPY"),
            valid_row(
                "generic_transactions",
                transaction_id="r1",
                amount=7.5,
                currency="JPY",
                _source_line=3,
            ),
            valid_row(
                "generic_transactions",
                transaction_id="r1",
                amount=-2,
                currency="JPY",
                _source_line=4,
            ),
        ],
    )


def test_revenue_matching_raw_reconciles(con) -> None:
    _revenue_raw(con)
    _fct(
        con,
        [
            ("shopify", DAY, "EUR", 50),
            ("stripe", DAY, "USD", 19.99),
            ("stripe", DAY, "JPY", 5000),
            ("paypal", DAY, "GBP", 1234.56),
            ("generic", DAY, "JPY", 20),
        ],
    )

    assert rev.revenue_mismatches(con) == (5, [])


def test_revenue_mismatch_names_source_day_currency_and_amounts(con) -> None:
    _revenue_raw(con)
    # fct lost the JPY charge and double counted the Shopify order's second line.
    _fct(
        con,
        [
            ("shopify", DAY, "EUR", 100),
            ("stripe", DAY, "USD", 19.99),
            ("paypal", DAY, "GBP", 1234.56),
            ("generic", DAY, "JPY", 20),
        ],
    )

    groups, mismatches = rev.revenue_mismatches(con)

    assert groups == 5
    assert [(m.source, m.day, m.currency, m.raw_gross, m.fct_gross) for m in mismatches] == [
        ("shopify", DAY, "EUR", Decimal("50.0000"), Decimal("100.0000")),
        ("stripe", DAY, "JPY", Decimal("5000.0000"), None),
    ]
    assert mismatches[1].difference == Decimal("-5000")
