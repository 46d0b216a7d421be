"""No label without data: engagement_band and price_sensitivity say `unknown` for a customer
whose inputs are absent, instead of a confident `dormant` / `full_price_buyer`.

One real `dbt build` of the hand-written scenario (raw_fixtures.py): Anna has events, Shopify
and Stripe orders; Pat pays only through PayPal (no discount data, no events); the till's
lone loyalty card has only generic receipts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, run_dbt
from raw_fixtures import AS_OF, write_scenario


@pytest.fixture(scope="module")
def db(dbt_work_dir: Path) -> Path:
    path = write_scenario(dbt_work_dir / "build.duckdb")
    run_dbt(path, dbt_work_dir, "build")
    return path


def _labels(db: Path, alias_type: str, alias_value: str) -> tuple:
    rows = query(
        db,
        "select s.engagement_band, s.price_sensitivity, f.orders_with_discount_data, "
        "f.discount_share from marts.customer_segments s "
        "join marts.customer_facts f using (customer_key, as_of_date) "
        "where s.customer_key = (select distinct customer_key from "
        "intermediate.int_customer_aliases where alias_type = ? and alias_value = ?)",
        [alias_type, alias_value],
    )
    assert len(rows) == 1, f"{alias_type} {alias_value!r}: {rows}"
    return rows[0]


def test_a_paypal_only_buyer_without_events_is_unknown_in_both_families(db):
    band, price, informative, share = _labels(db, "email", "pat@example.com")
    assert (band, price, informative, share) == ("unknown", "unknown", 0, None)


def test_a_generic_only_buyer_is_unknown_not_full_price(db):
    band, price, informative, _ = _labels(db, "generic_customer", "pos:L2")
    assert (band, price, informative) == ("unknown", "unknown", 0)


def test_a_customer_with_events_and_shop_orders_gets_real_labels(db):
    band, price, informative, _ = _labels(db, "email", "anna.k@mail.com")
    assert band != "unknown" and price in ("bargain_hunter", "full_price_buyer")
    # her till receipts carry no discount data, so only the Shopify and Stripe orders count
    orders = query(
        db,
        "select count(*) from marts.fct_transactions where is_purchase and "
        "has_discount is not null and customer_key = (select distinct customer_key from "
        "intermediate.int_customer_aliases where alias_value = 'anna.k@mail.com')",
    )[0][0]
    assert informative == orders > 0


def test_paypal_and_generic_transactions_carry_no_discount_flag(db):
    assert query(
        db,
        "select source, count(has_discount) from marts.fct_transactions "
        "where source in ('paypal', 'generic') group by 1 order by 1",
    ) == [("generic", 0), ("paypal", 0)]


def test_profiles_count_the_unknowns(db):
    rows = dict(
        query(
            db,
            "select segment_family, customers from marts.segment_profiles "
            "where as_of_date = ? and segment = 'unknown' "
            "and segment_family in ('engagement_band', 'price_sensitivity')",
            [AS_OF],
        )
    )
    current = query(
        db,
        "select count(*) filter (where engagement_band = 'unknown'), "
        "count(*) filter (where price_sensitivity = 'unknown') from marts.customer_segments",
    )[0]
    assert (rows.get("engagement_band"), rows.get("price_sensitivity")) == current
    assert all(n > 0 for n in current)
