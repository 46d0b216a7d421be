"""pipelines/defs/ingest/paypal.py on tests/fixtures/paypal/activity_2024-03.csv (UTF-8 BOM,
CRLF line endings, as PayPal writes them).

Fixture lines: 2 PAY-1 "1,234.56" at 14:02:11 PST, 3 REF-1 refund of PAY-1 (CET), 4 CB-1
chargeback of unknown PAY-404, 5 date 31/02/2024, 6 time zone XYZ, 7 PAY-1 again, 8 Gross
"12,30" (decimal comma), 9 PAY-5 (PDT), 10 REF-2 refund of PAY-5, 11 REF-3 refund without a
reference.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from .conftest import Warehouse

FIXTURE = "activity_2024-03.csv"
HEADER = (
    "Date,Time,TimeZone,Name,Type,Status,Currency,Gross,Fee,Net,From Email Address,"
    "Transaction ID,Reference Txn ID,Item Title,Quantity,Country,Contact Phone Number"
)


@pytest.fixture()
def loaded(wh: Warehouse) -> Warehouse:
    wh.land("paypal", FIXTURE)
    wh.load("paypal")
    return wh


def test_day_first_dates_in_named_zones_become_utc(loaded: Warehouse) -> None:
    at = dict(loaded.rows("SELECT transaction_id, occurred_at FROM raw.paypal_activity"))
    assert at["PAY-1"] == datetime(2024, 3, 5, 22, 2, 11)  # 05/03/2024 14:02:11 PST (-8)
    assert at["REF-1"] == datetime(2024, 3, 6, 8, 0)  # 06/03/2024 09:00 CET (+1)
    assert at["PAY-5"] == datetime(2024, 3, 7, 8, 0)  # 07/03/2024 01:00 PDT (-7)


def test_grouped_amounts_and_negative_refunds(loaded: Warehouse) -> None:
    rows = {
        r[0]: r[1:]
        for r in loaded.rows(
            "SELECT transaction_id, gross, fee, net, reference_transaction_id, quantity "
            "FROM raw.paypal_activity"
        )
    }
    assert rows["PAY-1"] == (Decimal("1234.56"), Decimal("-36.10"), Decimal("1198.46"), None, 1)
    assert rows["REF-1"][0] == Decimal("-100.00") and rows["REF-1"][3] == "PAY-1"
    # A refund whose payment comes earlier in the same load is not an orphan.
    assert rows["REF-2"][3] == "PAY-5"


def test_each_messy_line_is_quarantined_with_its_reason_and_line(loaded: Warehouse) -> None:
    assert loaded.reasons("paypal") == {
        4: "orphan_refund",  # chargeback of PAY-404, which nobody loaded
        5: "invalid_timestamp",  # 31/02/2024
        6: "invalid_timestamp",  # time zone XYZ
        7: "duplicate_id",
        8: "invalid_amount",  # decimal comma, not read as 1230
        11: "orphan_refund",  # refund without Reference Txn ID
    }
    assert (
        loaded.one("SELECT reason_detail FROM quarantine.paypal WHERE _source_line = 4")
        == "Reference Txn ID=PAY-404 matches no transaction loaded so far"
    )


def test_refund_of_a_payment_loaded_earlier_from_another_file(loaded: Warehouse) -> None:
    refund = (
        "10/03/2024,10:00:00,GMT,Anna K,Payment Refund,Completed,USD,-5.00,0.00,-5.00,"
        "anna@example.com,REF-9,PAY-1,Mug,1,US,\r\n"
    )
    loaded.land("paypal", as_name="activity_late.csv", data=HEADER + "\r\n" + refund)
    loaded.load("paypal")
    assert loaded.one(
        "SELECT _partition_date FROM raw.paypal_activity WHERE transaction_id = 'REF-9'"
    ) == date(2024, 3, 10)


def test_bom_and_crlf_do_not_leak_into_values(loaded: Warehouse) -> None:
    assert (
        loaded.one(
            "SELECT count(*) FROM raw.paypal_activity WHERE contains(contact_phone, chr(13)) "
            "OR contains(transaction_id, chr(65279))"
        )
        == 0
    )
    m = loaded.manifest("paypal")[f"paypal/{FIXTURE}"]
    assert (m["rows_in_file"], m["rows_loaded"], m["rows_quarantined"]) == (10, 4, 6)
