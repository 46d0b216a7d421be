"""pipelines/defs/ingest/generic.py (+ mapping.py) on tests/fixtures/generic/pos/.

The pos fixture is a Latin-1, ';'-delimited till export in Warsaw local time, mapped with
quantity x unit price and a fixed currency. Lines: 2-3 receipt R-1 (two lines), 4 a return
(quantity -1), 5 no loyalty card, 6 date 32.03.2024, 7 price 'abc'.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from pipelines.defs.ingest.mapping import parse_mapping
from pipelines.defs.ingest.spec import IngestError

from .conftest import Warehouse

WEBSHOP_MAPPING = """
timezone: UTC
columns:
  timestamp: ts
  amount: amount
  email: mail
  currency: cur
"""
WEBSHOP_CSV = "ts,amount,mail,cur\n2024-03-05T10:00:00+01:00,19.99,a@b.example,eur\n"


def land_pos(wh: Warehouse) -> None:
    wh.land("generic", "pos/mapping.yml")
    wh.land("generic", "pos/sales_2024-03.csv")


def test_mapped_latin1_till_export_is_typed(wh: Warehouse) -> None:
    land_pos(wh)
    wh.load("generic")
    rows = wh.rows(
        "SELECT source_name, transaction_id, customer_id, occurred_at, amount, currency, "
        "quantity, category, product_name, _partition_date FROM raw.generic_transactions "
        "ORDER BY _source_line"
    )
    assert rows == [
        # 05.03.2024 14:00 in Warsaw (CET, +1) is 13:00 UTC; amount = 2 x 49.99
        (
            "pos",
            "R-1",
            "LC-100",
            datetime(2024, 3, 5, 13, 0),
            Decimal("99.98"),
            "PLN",
            2,
            "home",
            "Duftkerze groß",
            date(2024, 3, 5),
        ),
        (
            "pos",
            "R-1",
            "LC-100",
            datetime(2024, 3, 5, 13, 0),
            Decimal("25.00"),
            "PLN",
            1,
            "home",
            "Tasse",
            date(2024, 3, 5),
        ),
        # a return: negative quantity, negative amount; 00:30 local is the previous UTC day
        (
            "pos",
            "R-2",
            "LC-200",
            datetime(2024, 3, 5, 23, 30),
            Decimal("-19.99"),
            "PLN",
            -1,
            "apparel",
            "Socken Größe 42",
            date(2024, 3, 5),
        ),
    ]
    assert wh.reasons("generic") == {
        5: "missing_required",
        6: "invalid_timestamp",
        7: "invalid_amount",
    }


def test_without_an_order_id_each_line_is_its_own_transaction(wh: Warehouse) -> None:
    wh.land("generic", as_name="webshop/mapping.yml", data=WEBSHOP_MAPPING)
    wh.land("generic", as_name="webshop/orders.csv", data=WEBSHOP_CSV)
    wh.load("generic")
    assert wh.rows(
        "SELECT source_name, transaction_id, occurred_at, amount, currency, quantity "
        "FROM raw.generic_transactions"
    ) == [
        (
            "webshop",
            "generic/webshop/orders.csv:2",
            datetime(2024, 3, 5, 9, 0),
            Decimal("19.99"),
            "EUR",
            1,
        )
    ]


def test_folder_without_mapping_fails_and_the_other_folders_load(wh: Warehouse) -> None:
    land_pos(wh)
    wh.land("generic", as_name="erp/dump.csv", data=WEBSHOP_CSV)
    with pytest.raises(IngestError) as err:
        wh.load("generic")
    assert err.value.failures.keys() == {"generic/erp/dump.csv"}
    assert "generic/erp/ has no mapping.yml" in str(err.value)
    assert wh.one("SELECT count(DISTINCT source_name) FROM raw.generic_transactions") == 1


def test_mapping_naming_a_missing_column_names_the_key_and_the_csv_columns(
    wh: Warehouse,
) -> None:
    wh.land(
        "generic",
        as_name="webshop/mapping.yml",
        data=WEBSHOP_MAPPING.replace("amount: amount", "amount: total"),
    )
    wh.land("generic", as_name="webshop/orders.csv", data=WEBSHOP_CSV)
    with pytest.raises(IngestError) as err:
        wh.load("generic")
    message = str(err.value)
    assert "generic/webshop/mapping.yml: columns.amount names 'total'" in message
    assert "generic/webshop/orders.csv" in message and "'ts', 'amount', 'mail', 'cur'" in message


def test_file_dropped_directly_into_generic_fails(wh: Warehouse) -> None:
    wh.land("generic", as_name="orphan.csv", data=WEBSHOP_CSV)
    with pytest.raises(IngestError, match=r"generic/<source_name>/orphan\.csv"):
        wh.load("generic")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns: {amount: a, email: e}", "columns.timestamp is required"),
        ("columns: {timestamp: t, email: e}", "columns.amount is required"),
        ("columns: {timestamp: t, amount: a, currency: c}", "customer_id, columns.email"),
        ("currency: EUX\ncolumns: {timestamp: t, amount: a, email: e}", "'EUX' is not an ISO"),
        (
            "currency: EUR\ntimezone: Mars/Base\ncolumns: {timestamp: t, amount: a, email: e}",
            "'Mars/Base' is not an IANA",
        ),
        ("columns: {timestamp: t, amount: a, email: e}", "set a fixed `currency:`"),
        ("currency: EUR\ncolumns: {timestamp: t, amount: a, email: e, sku: s}", "['sku']"),
        (
            "delimiter: ';;'\ncurrency: EUR\ncolumns: {timestamp: t, amount: a, email: e}",
            "delimiter must be one character",
        ),
        ("columns: [timestamp]", "needs a `columns:` section"),
        ("columns: {timestamp: t\n", "is not valid YAML"),
    ],
)
def test_invalid_mapping_names_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(IngestError) as err:
        parse_mapping(text, "pos", "generic/pos/mapping.yml")
    assert str(err.value).startswith("generic/pos/mapping.yml: ")
    assert expected in str(err.value)


def test_mapping_defaults_and_tab_delimiter() -> None:
    m = parse_mapping(
        'delimiter: "\\t"\ncurrency: gbp\n'
        'timestamp_format: ["%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S"]\n'
        "columns: {timestamp: InvoiceDate, unit_price: UnitPrice, quantity: Quantity, "
        "customer_id: CustomerID, order_id: InvoiceNo, product_name: Description}",
        "online_retail",
        "generic/online_retail/mapping.yml",
    )
    assert (m.delimiter, m.encoding, m.timezone, m.currency) == ("\t", "utf-8", "UTC", "GBP")
    assert m.timestamp_formats == ("%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S")
    assert "amount" not in m.columns and m.columns["unit_price"] == "UnitPrice"


def test_out_of_range_values_are_quarantined_not_fatal(wh: Warehouse) -> None:
    wh.land(
        "generic",
        as_name="erp/mapping.yml",
        data="currency: EUR\ncolumns: {timestamp: ts, unit_price: p, quantity: q, email: e}\n",
    )
    wh.land(
        "generic",
        as_name="erp/lines.csv",
        data="ts,p,q,e\n"
        "2024-03-05 10:00:00,1.50,3000000000,a@b.example\n"  # quantity beyond INTEGER
        "2024-03-05 10:00:00,99999999,2000000000,a@b.example\n"  # amount beyond DECIMAL(18,2)
        "2024-03-05 10:00:00,1.50,2,a@b.example\n",
    )
    wh.load("generic")
    assert wh.reasons("generic") == {2: "invalid_value", 3: "invalid_amount"}
    assert wh.one("SELECT amount FROM raw.generic_transactions") == Decimal("3.00")
