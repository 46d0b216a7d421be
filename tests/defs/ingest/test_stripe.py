"""pipelines/defs/ingest/stripe.py on tests/fixtures/stripe/charges_2024-03.jsonl.

Fixture lines: 1 ch_1 USD, 2 ch_2 JPY (zero-decimal, refunded), 3 ch_3 failed, 4 empty,
5 amount "19.99", 6 currency xyz, 7 ch_1 again, 8 a JSON array, 9 created in 2031,
10 no id, 11 refund > amount, 12 amount 2,000,000,000 cents, 13 truncated (no newline).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from .conftest import Warehouse, fixture_records

FIXTURE = "charges_2024-03.jsonl"


@pytest.fixture()
def loaded(wh: Warehouse) -> Warehouse:
    wh.land("stripe", FIXTURE)
    wh.load("stripe")
    return wh


def test_amounts_stay_in_minor_units_and_created_is_utc(loaded: Warehouse) -> None:
    rows = {
        r[0]: r[1:]
        for r in loaded.rows(
            "SELECT charge_id, amount_minor, amount_refunded_minor, currency, created_at, "
            "_partition_date FROM raw.stripe_charges"
        )
    }
    assert rows["ch_1"] == (1999, 0, "USD", datetime(2024, 3, 5, 14, 2, 11), date(2024, 3, 5))
    # JPY has no minor unit: 3800 is 3800 yen, not 38.00.
    assert rows["ch_2"] == (3800, 3800, "JPY", datetime(2024, 3, 5, 0, 0), date(2024, 3, 5))


def test_nested_fields_flags_and_metadata(loaded: Warehouse) -> None:
    row = loaded.one(
        "SELECT billing_email, billing_city, billing_country, status, is_paid, is_refunded, "
        "is_disputed, metadata FROM raw.stripe_charges WHERE charge_id = 'ch_1'"
    )
    assert row[:7] == ("Anna.K@Mail.com ", "Kraków", "PL", "succeeded", True, False, False)
    assert json.loads(row[7]) == {"category": "apparel", "discount_code": "WELCOME10"}


def test_failed_charges_are_kept(loaded: Warehouse) -> None:
    assert loaded.rows(
        "SELECT status, is_paid FROM raw.stripe_charges WHERE charge_id = 'ch_3'"
    ) == [("failed", False)]


def test_each_messy_line_is_quarantined_with_its_reason_and_line(loaded: Warehouse) -> None:
    assert loaded.reasons("stripe") == {
        5: "invalid_amount",
        6: "unknown_currency",
        7: "duplicate_id",
        8: "invalid_json",
        9: "future_date",
        10: "missing_required",
        11: "invalid_amount",
        12: "invalid_amount",  # 20,000,000.00 USD
        13: "invalid_json",
    }


def test_truncated_last_line_is_quarantined_with_its_text(loaded: Warehouse) -> None:
    row = loaded.one(
        "SELECT reason_detail, raw_record, _partition_date FROM quarantine.stripe "
        "WHERE _source_line = 13"
    )
    assert row == (
        "not valid JSON (a truncated or cut-off line?)",
        '{"id": "ch_10", "amount": 500, "curr',
        None,
    )


def test_rows_in_file_equal_rows_loaded_plus_quarantined(loaded: Warehouse) -> None:
    m = loaded.manifest("stripe")[f"stripe/{FIXTURE}"]
    assert m["rows_in_file"] == fixture_records("stripe", FIXTURE) == 12  # empty line 4 skipped
    assert m["rows_loaded"] + m["rows_quarantined"] == m["rows_in_file"]
