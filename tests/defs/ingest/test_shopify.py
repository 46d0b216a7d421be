"""pipelines/defs/ingest/shopify.py on tests/fixtures/shopify/orders_export_2024-03.csv.

Fixture lines: 2-3 order #1001 (two line items, order fields only on line 2), 4 Total '12,3x',
5 currency EUX, 6 Created at 'yesterday', 7 Created at empty, 8 too few fields, 9 created in
2031, 10 created in 2019, 11 #1001 again, 12 Total 99,999,999, 13 #1009 at 23:30 -0500,
14 #1010 JPY at 00:30 +0900, 15 empty, 16 #1011 with a quoted "" quote.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from pipelines.defs.ingest.spec import IngestError

from .conftest import FIXTURES, Warehouse, fixture_records

FIXTURE = "orders_export_2024-03.csv"


@pytest.fixture()
def loaded(wh: Warehouse) -> Warehouse:
    wh.land("shopify", FIXTURE)
    wh.load("shopify")
    return wh


def test_offsets_are_converted_to_utc_and_amounts_typed(loaded: Warehouse) -> None:
    row = loaded.one(
        "SELECT created_at, paid_at, currency, subtotal, total, lineitem_price, email "
        "FROM raw.shopify_orders WHERE order_name = '#1001' AND line_number_in_order = 1"
    )
    assert row == (
        datetime(2024, 3, 5, 13, 2, 11),  # 14:02:11 +0100
        datetime(2024, 3, 5, 13, 2, 11),
        "EUR",
        Decimal("1234.50"),  # "1,234.50"
        Decimal("1239.50"),
        Decimal("617.25"),
        " Anna.K@Mail.com ",  # spelling kept: staging normalises
    )


def test_partition_is_the_utc_date_of_created_at(loaded: Warehouse) -> None:
    partitions = dict(loaded.rows("SELECT order_name, _partition_date FROM raw.shopify_orders"))
    assert partitions["#1009"] == date(2024, 3, 7)  # 2024-03-06 23:30 -0500
    assert partitions["#1010"] == date(2024, 3, 4)  # 2024-03-05 00:30 +0900
    assert loaded.one("SELECT currency FROM raw.shopify_orders WHERE order_name = '#1009'") == "GBP"


def test_order_fields_are_forward_filled_to_every_line_of_the_order(loaded: Warehouse) -> None:
    lines = loaded.rows(
        "SELECT line_number_in_order, email, total, created_at, lineitem_name, lineitem_quantity,"
        " _source_line FROM raw.shopify_orders WHERE order_name = '#1001' ORDER BY 1"
    )
    assert [r[0] for r in lines] == [1, 2]
    assert lines[1][1:4] == lines[0][1:4]  # email, total, created_at from line 1
    assert lines[1][4:] == ("Socks", 1, 3)  # its own line item, from file line 3


def test_each_messy_line_is_quarantined_with_its_reason_and_line(loaded: Warehouse) -> None:
    assert loaded.reasons("shopify") == {
        4: "invalid_amount",
        5: "unknown_currency",
        6: "invalid_timestamp",
        7: "missing_required",
        8: "malformed_row",
        9: "future_date",
        10: "before_start_date",
        11: "duplicate_id",
        12: "invalid_amount",
    }
    detail, raw = loaded.one(
        "SELECT reason_detail, raw_record FROM quarantine.shopify WHERE _source_line = 4"
    )
    assert detail == "Total='12,3x' is not a number"
    assert raw.startswith("#1002,anna@example.com,paid,")
    assert "line 2" in loaded.one(
        "SELECT reason_detail FROM quarantine.shopify WHERE _source_line = 11"
    )


def test_quoted_quotes_are_unescaped(loaded: Warehouse) -> None:
    assert (
        loaded.one("SELECT lineitem_name FROM raw.shopify_orders WHERE order_name = '#1011'")
        == 'Poster "Big"'
    )


def test_rows_in_file_equal_rows_loaded_plus_quarantined(loaded: Warehouse) -> None:
    m = loaded.manifest("shopify")[f"shopify/{FIXTURE}"]
    assert m["rows_in_file"] == fixture_records("shopify", FIXTURE) == 14
    assert (m["rows_loaded"], m["rows_quarantined"], m["rows_waiting"]) == (5, 9, 0)


def test_renamed_required_column_fails_the_file_naming_it(wh: Warehouse) -> None:
    text = (FIXTURES / "shopify" / FIXTURE).read_text().replace(",Total,", ",Total Price,", 1)
    wh.land("shopify", as_name="renamed.csv", data=text)
    with pytest.raises(IngestError) as err:
        wh.load("shopify")
    message = str(err.value)
    assert "shopify/renamed.csv" in message
    assert "'Total'" in message and "'Total Price' looks like a renamed 'Total'" in message
    assert wh.one("SELECT count(*) FROM raw.shopify_orders") == 0
    assert wh.manifest("shopify")["shopify/renamed.csv"]["status"] == "failed"


def test_semicolon_delimited_export_fails_with_a_delimiter_hint(wh: Warehouse) -> None:
    text = (FIXTURES / "shopify" / FIXTURE).read_text().splitlines()[0].replace(",", ";")
    wh.land("shopify", as_name="semicolons.csv", data=text + "\n#1;a@b.c\n")
    with pytest.raises(IngestError, match=r"semicolons\.csv.*looks ';'-delimited"):
        wh.load("shopify")
