"""`customer_source_ids`: from a customer_key back to the ids each source knows the customer by.

One real `dbt build` of the hand-written scenario (raw_fixtures.py), then assertions on the ids
of people whose records the scenario spells out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, run_dbt
from raw_fixtures import write_scenario


@pytest.fixture(scope="module")
def db(dbt_work_dir: Path) -> Path:
    path = write_scenario(dbt_work_dir / "build.duckdb")
    run_dbt(path, dbt_work_dir, "build")
    return path


def _key(db: Path, alias_type: str, alias_value: str) -> str:
    rows = query(
        db,
        "select distinct customer_key from intermediate.int_customer_aliases "
        "where alias_type = ? and alias_value = ?",
        [alias_type, alias_value],
    )
    assert len(rows) == 1, f"{alias_type} {alias_value!r} maps to {len(rows)} customers"
    return rows[0][0]


def _ids(db: Path, customer_key: str) -> set[tuple[str, str, str, bool]]:
    return set(
        query(
            db,
            "select source, id_type, source_customer_id, is_pii from marts.customer_source_ids "
            "where customer_key = ?",
            [customer_key],
        )
    )


def test_a_stitched_customer_gets_back_every_source_id(db):
    anna = _key(db, "email", "anna.k@mail.com")
    ids = _ids(db, anna)
    # her Stripe customer id and her loyalty card as the till's CSV writes it (no folder prefix)
    assert ("stripe", "customer_id", "cus_A", False) in ids
    assert ("generic/pos", "customer_id", "L1", False) in ids
    # Shopify knows her by email only: that id is personal data
    assert ("shopify", "email", "anna.k@mail.com", True) in ids
    # the till wrote her phone 00-style; it is normalised like every phone
    assert ("generic/pos", "phone", "+48601234567", True) in ids
    assert {source for source, *_ in ids} >= {"shopify", "stripe", "generic/pos"}


def test_a_guest_is_known_by_its_order_id(db):
    guest = _key(db, "guest", "shopify:1003")
    assert _ids(db, guest) == {("shopify", "order_id", "1003", False)}


def test_paypal_payer_is_known_by_the_normalised_email(db):
    pat = _key(db, "email", "pat@example.com")
    assert ("paypal", "email", "pat@example.com", True) in _ids(db, pat)


def test_anonymous_browser_ids_are_not_source_ids(db):
    assert query(
        db,
        "select count(*) from marts.customer_source_ids where source_customer_id like 'anon-%'",
    ) == [(0,)]


def test_every_customer_with_a_non_guest_alias_has_a_source_id(db):
    # every alias but browser ids becomes a source id, of the same customer
    assert query(
        db,
        "select count(*) from intermediate.int_customer_aliases a "
        "where a.alias_type <> 'anonymous_id' and not exists (select 1 "
        "from marts.customer_source_ids s where s.customer_key = a.customer_key "
        "and s.source = a.source)",
    ) == [(0,)]
