"""`dbt build` on the hand-written scenario of raw_fixtures.py, then assertions on real values.

One build per module (about 15 s); every test reads the resulting DuckDB file.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query, run_dbt
from raw_fixtures import AS_OF, KEY_SECRET, write_scenario


@pytest.fixture(scope="module")
def db(dbt_work_dir: Path) -> Path:
    path = write_scenario(dbt_work_dir / "build.duckdb")
    run_dbt(path, dbt_work_dir, "build")
    return path


def customer_of(db: Path, alias_type: str, alias_value: str) -> str:
    rows = query(
        db,
        "select distinct customer_key from intermediate.int_customer_aliases "
        "where alias_type = ? and alias_value = ?",
        [alias_type, alias_value],
    )
    assert len(rows) == 1, f"{alias_type} {alias_value!r} maps to {len(rows)} customers"
    return rows[0][0]


def test_email_spellings_phone_formats_and_loyalty_card_are_one_customer(db):
    anna = customer_of(db, "email", "anna.k@mail.com")
    assert customer_of(db, "phone", "+48601234567") == anna
    assert customer_of(db, "generic_customer", "pos:L1") == anna
    assert customer_of(db, "stripe_customer", "cus_A") == anna
    sources = query(
        db,
        "select distinct source from marts.fct_transactions where customer_key = ? order by 1",
        [anna],
    )
    assert [s for (s,) in sources] == ["generic", "shopify", "stripe"]


def test_guests_without_email_or_phone_are_separate_customers(db):
    keys = {
        customer_of(db, "guest", g) for g in ("shopify:1003", "shopify:1004", "stripe:ch_guest")
    }
    assert len(keys) == 3


def test_customer_key_is_the_keyed_hash_of_the_identifier_seen_first(db):
    # Bob paid with his Stripe customer id a month before Stripe had his email.
    bob = customer_of(db, "email", "bob@example.com")
    anchor = query(
        db,
        "select anchor_identifier, md5(? || ':' || anchor_identifier) from marts.dim_customers "
        "where customer_key = ?",
        [KEY_SECRET, bob],
    )
    assert anchor == [("stripe_customer:cus_B", bob)]
    # Regression (issue 11): an unsalted md5 of the identifier was reversible.
    assert query(db, "select md5('stripe_customer:cus_B')") != [(bob,)]


def test_failed_voided_and_pending_payments_are_not_transactions(db):
    ids = {i for (i,) in query(db, "select transaction_id from marts.fct_transactions")}
    assert {"ch_anna_failed", "1005", "P3", "W1"}.isdisjoint(ids)
    assert query(
        db,
        "select count(*) from intermediate.int_customer_aliases where alias_value = 'void@example.com'",
    ) == [(0,)]


def test_refund_reduces_net_revenue(db):
    row = query(
        db,
        "select gross_amount, refunded_amount, net_amount from marts.fct_transactions where transaction_id = 'ch_refund'",
    )
    assert row == [(Decimal("120.00"), Decimal("45.00"), Decimal("75.00"))]


def test_paypal_refund_and_chargeback_lines_net_their_payment(db):
    rows = dict(
        (tid, (gross, refunded, disputed))
        for tid, gross, refunded, disputed in query(
            db,
            "select transaction_id, gross_amount_original, refunded_amount_original, is_disputed "
            "from marts.fct_transactions where source = 'paypal'",
        )
    )
    assert rows == {"P1": (80, 20, False), "P2": (60, 60, True)}


def test_zero_decimal_currency_on_a_saturday_uses_fridays_rate(db):
    row = query(
        db,
        "select gross_amount_original, fx_rate_date, gross_amount from marts.fct_transactions "
        "where transaction_id = 'ch_jpy'",
    )
    assert row == [(Decimal("2900.0000"), date(2024, 6, 28), Decimal("19.43"))]


def test_return_on_its_own_receipt_lowers_net_revenue_but_is_no_order(db):
    anna = customer_of(db, "email", "anna.k@mail.com")
    facts = query(
        db,
        "select orders_count, gross_revenue, refunded_amount, net_revenue from marts.customer_facts "
        "where customer_key = ? and as_of_date = ?",
        [anna, AS_OF],
    )
    # Shopify 50 + 37.50 (12.50 refunded), Stripe 25, till 12.50 then 5 returned (PLN at 0.25).
    assert facts == [(4, Decimal("125.00"), Decimal("17.50"), Decimal("107.50"))]


def test_anonymous_browser_is_attributed_only_after_a_login(db):
    anna = customer_of(db, "email", "anna.k@mail.com")
    assert customer_of(db, "anonymous_id", "anon-anna") == anna
    assert query(
        db,
        "select count(*) from intermediate.int_customer_aliases where alias_value = 'anon-stranger'",
    ) == [(0,)]
    last_engagement = query(
        db, "select last_engagement_date from marts.customer_facts where customer_key = ?", [anna]
    )
    assert last_engagement == [(date(2024, 6, 28),)]


def test_prospects_are_customers_with_zero_orders(db):
    prospect = customer_of(db, "email", "prospect@example.com")
    facts = query(
        db,
        "select orders_count, net_revenue, age_band, country_code from marts.customer_facts where customer_key = ?",
        [prospect],
    )
    assert facts == [(0, Decimal("0.00"), "18-24", "GB")]
    assert query(
        db, "select rfm_segment from marts.customer_segments where customer_key = ?", [prospect]
    ) == [(None,)]


def test_crm_duplicates_keep_the_latest_consent_and_the_surviving_birth_date(db):
    anna = customer_of(db, "email", "anna.k@mail.com")
    row = query(
        db,
        "select has_marketing_consent, birth_date, signup_at::date from marts.dim_customers where customer_key = ?",
        [anna],
    )
    assert row == [(False, date(1990, 5, 1), date(2023, 12, 1))]


def test_customer_segments_has_one_row_per_known_customer(db):
    total, distinct, as_of = query(
        db,
        "select count(*), count(distinct customer_key), max(as_of_date) from marts.customer_segments",
    )[0]
    customers = query(db, "select count(*) from marts.dim_customers")[0][0]
    assert total == distinct == customers
    assert as_of == AS_OF


def test_most_recent_biggest_spender_is_a_champion(db):
    anna = customer_of(db, "email", "anna.k@mail.com")
    row = query(
        db,
        "select r_score, f_score, m_score, fm_score, rfm_segment from marts.customer_segments where customer_key = ?",
        [anna],
    )
    assert row == [(5, 5, 5, 5, "Champions")]
