"""The raw-table contract (docs/raw_tables.md) as DuckDB DDL, with one conforming row per table.

Tests build real DuckDB tables from this, so the frames GX sees have the dtypes production
frames have (DATE/TIMESTAMP → datetime64, DECIMAL → float64, nullable ints → Int64).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

LINEAGE = {
    "_source_file": "VARCHAR",
    "_source_line": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_partition_date": "DATE",
}

RAW_COLUMNS: dict[str, dict[str, str]] = {
    "shopify_orders": {
        "order_name": "VARCHAR",
        "order_id": "VARCHAR",
        "line_number_in_order": "INTEGER",
        "email": "VARCHAR",
        "financial_status": "VARCHAR",
        "paid_at": "TIMESTAMP",
        "created_at": "TIMESTAMP",
        "currency": "VARCHAR",
        "subtotal": "DECIMAL(18,2)",
        "shipping": "DECIMAL(18,2)",
        "taxes": "DECIMAL(18,2)",
        "total": "DECIMAL(18,2)",
        "discount_amount": "DECIMAL(18,2)",
        "refunded_amount": "DECIMAL(18,2)",
        "discount_code": "VARCHAR",
        "lineitem_quantity": "INTEGER",
        "lineitem_name": "VARCHAR",
        "lineitem_sku": "VARCHAR",
        "lineitem_price": "DECIMAL(18,2)",
        "billing_name": "VARCHAR",
        "billing_city": "VARCHAR",
        "billing_country": "VARCHAR",
        "billing_phone": "VARCHAR",
        "tags": "VARCHAR",
        "source_name": "VARCHAR",
    },
    "stripe_charges": {
        "charge_id": "VARCHAR",
        "amount_minor": "BIGINT",
        "amount_refunded_minor": "BIGINT",
        "currency": "VARCHAR",
        "created_at": "TIMESTAMP",
        "customer_id": "VARCHAR",
        "billing_email": "VARCHAR",
        "billing_name": "VARCHAR",
        "billing_phone": "VARCHAR",
        "billing_city": "VARCHAR",
        "billing_country": "VARCHAR",
        "receipt_email": "VARCHAR",
        "status": "VARCHAR",
        "is_paid": "BOOLEAN",
        "is_refunded": "BOOLEAN",
        "is_disputed": "BOOLEAN",
        "description": "VARCHAR",
        "metadata": "JSON",
    },
    "paypal_activity": {
        "transaction_id": "VARCHAR",
        "reference_transaction_id": "VARCHAR",
        "occurred_at": "TIMESTAMP",
        "name": "VARCHAR",
        "type": "VARCHAR",
        "status": "VARCHAR",
        "currency": "VARCHAR",
        "gross": "DECIMAL(18,2)",
        "fee": "DECIMAL(18,2)",
        "net": "DECIMAL(18,2)",
        "from_email": "VARCHAR",
        "item_title": "VARCHAR",
        "quantity": "INTEGER",
        "country": "VARCHAR",
        "contact_phone": "VARCHAR",
    },
    "crm_contacts": {
        "email": "VARCHAR",
        "first_name": "VARCHAR",
        "last_name": "VARCHAR",
        "phone": "VARCHAR",
        "birth_date": "DATE",
        "gender": "VARCHAR",
        "city": "VARCHAR",
        "country": "VARCHAR",
        "lifecycle_stage": "VARCHAR",
        "created_at": "TIMESTAMP",
        "marketing_consent": "BOOLEAN",
    },
    "fx_rates": {"rate_date": "DATE", "currency": "VARCHAR", "rate_to_reporting": "DECIMAL(18,8)"},
    "events": {
        "event": "VARCHAR",
        "occurred_at": "TIMESTAMP",
        "email": "VARCHAR",
        "anonymous_id": "VARCHAR",
        "properties": "JSON",
    },
    "support_tickets": {
        "ticket_id": "VARCHAR",
        "requester_email": "VARCHAR",
        "created_at": "TIMESTAMP",
        "type": "VARCHAR",
        "status": "VARCHAR",
    },
    "generic_transactions": {
        "source_name": "VARCHAR",
        "transaction_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "occurred_at": "TIMESTAMP",
        "amount": "DECIMAL(18,2)",
        "currency": "VARCHAR",
        "quantity": "INTEGER",
        "category": "VARCHAR",
        "product_name": "VARCHAR",
        "country": "VARCHAR",
    },
}

SOURCES = {
    "shopify_orders": "shopify",
    "stripe_charges": "stripe",
    "paypal_activity": "paypal",
    "crm_contacts": "crm",
    "fx_rates": "fx",
    "events": "events",
    "support_tickets": "support",
    "generic_transactions": "generic",
}

DAY = date(2024, 3, 5)
AT = datetime(2024, 3, 5, 13, 2, 11)
LOADED_AT = datetime(2024, 3, 6, 2, 0, 0)


def valid_row(table: str, **overrides: Any) -> dict[str, Any]:
    """One row of `table` that passes every expectation of its suite."""
    rows: dict[str, dict[str, Any]] = {
        "shopify_orders": {
            "order_name": "#1001",
            "order_id": "5001",
            "line_number_in_order": 1,
            "email": "Anna.K@Mail.com ",
            "financial_status": "paid",
            "paid_at": AT,
            "created_at": AT,
            "currency": "EUR",
            "subtotal": 40,
            "shipping": 5,
            "taxes": 5,
            "total": 50,
            "discount_amount": 0,
            "refunded_amount": 0,
            "discount_code": None,
            "lineitem_quantity": 2,
            "lineitem_name": "Mug",
            "lineitem_sku": "MUG-1",
            "lineitem_price": 20,
            "billing_name": "Anna K",
            "billing_city": "Berlin",
            "billing_country": "DE",
            "billing_phone": "+49 30 1234",
            "tags": "",
            "source_name": "web",
        },
        "stripe_charges": {
            "charge_id": "ch_1",
            "amount_minor": 1999,
            "amount_refunded_minor": 0,
            "currency": "USD",
            "created_at": AT,
            "customer_id": "cus_1",
            "billing_email": "bob@example.com",
            "billing_name": "Bob",
            "billing_phone": None,
            "billing_city": "Boston",
            "billing_country": "US",
            "receipt_email": None,
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "description": "Order 1",
            "metadata": '{"category": "mugs"}',
        },
        "paypal_activity": {
            "transaction_id": "7AB12345CD6789012",
            "reference_transaction_id": None,
            "occurred_at": AT,
            "name": "Carla",
            "type": "Express Checkout Payment",
            "status": "Completed",
            "currency": "GBP",
            "gross": 1234.56,
            "fee": -43.57,
            "net": 1190.99,
            "from_email": "carla@example.co.uk",
            "item_title": "Lamp",
            "quantity": 1,
            "country": "United Kingdom",
            "contact_phone": None,
        },
        "crm_contacts": {
            "email": "anna.k@mail.com",
            "first_name": "Anna",
            "last_name": "K",
            "phone": "030 1234",
            "birth_date": date(1990, 1, 31),
            "gender": "female",
            "city": "Berlin",
            "country": "DE",
            "lifecycle_stage": "customer",
            "created_at": AT,
            "marketing_consent": True,
        },
        "fx_rates": {"rate_date": DAY, "currency": "EUR", "rate_to_reporting": 1.0843},
        "events": {
            "event": "page_view",
            "occurred_at": AT,
            "email": None,
            "anonymous_id": "anon-1",
            "properties": '{"path": "/"}',
        },
        "support_tickets": {
            "ticket_id": "T-1",
            "requester_email": "bob@example.com",
            "created_at": AT,
            "type": "complaint",
            "status": "open",
        },
        "generic_transactions": {
            "source_name": "pos",
            "transaction_id": "pos-1",
            "customer_id": "C1",
            "email": None,
            "phone": None,
            "occurred_at": AT,
            "amount": 12.5,
            "currency": "JPY",
            "quantity": 1,
            "category": "mugs",
            "product_name": "Mug",
            "country": "JP",
        },
    }
    row = {
        **rows[table],
        "_source_file": f"{SOURCES[table]}/export.csv",
        "_source_line": 2,
        "_loaded_at": LOADED_AT,
        "_partition_date": DAY,
    }
    unknown = set(overrides) - set(row)
    if unknown:
        raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
    return {**row, **overrides}


def create_raw_table(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]
) -> None:
    """Create raw.<table> with the contract's columns and insert `rows`."""
    columns = {**RAW_COLUMNS[table], **LINEAGE}
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"CREATE OR REPLACE TABLE raw.{table} ("
        + ", ".join(f"{c} {t}" for c, t in columns.items())
        + ")"
    )
    if rows:
        names = list(columns)
        placeholders = ", ".join("?" for _ in names)
        con.executemany(
            f"INSERT INTO raw.{table} ({', '.join(names)}) VALUES ({placeholders})",
            [[r.get(c) for c in names] for r in rows],
        )


def raw_frame(table: str, rows: list[dict[str, Any]]):
    """The pandas frame DuckDB returns for these rows (production dtypes)."""
    with duckdb.connect() as con:
        create_raw_table(con, table, rows)
        return con.execute(f"SELECT * FROM raw.{table}").df()


def build_db(path: Path, rows_by_table: dict[str, list[dict[str, Any]]]) -> Path:
    """A build database file holding the given raw tables."""
    with duckdb.connect(str(path)) as con:
        for table, rows in rows_by_table.items():
            create_raw_table(con, table, rows)
    return path


MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS meta.load_manifest (
    source VARCHAR, file_path VARCHAR, file_sha256 VARCHAR, file_bytes BIGINT,
    status VARCHAR, error VARCHAR, rows_in_file BIGINT, rows_loaded BIGINT,
    rows_quarantined BIGINT, rows_waiting BIGINT, min_partition_date DATE, max_partition_date DATE,
    first_seen_at TIMESTAMP, loaded_at TIMESTAMP
)
"""


def create_quarantine_table(
    con: duckdb.DuckDBPyConnection, source: str, rows: list[dict[str, Any]]
) -> None:
    """Create quarantine.<source> (docs/raw_tables.md) with `rows` (lineage + reason)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
    con.execute(
        f"CREATE OR REPLACE TABLE quarantine.{source} (_source_file VARCHAR, _source_line BIGINT, "
        "_loaded_at TIMESTAMP, _partition_date DATE, reason_code VARCHAR, reason_detail VARCHAR, "
        "raw_record VARCHAR)"
    )
    for r in rows:
        con.execute(
            f"INSERT INTO quarantine.{source} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                r["_source_file"],
                r.get("_source_line", 2),
                r.get("_loaded_at", LOADED_AT),
                r.get("_partition_date", DAY),
                r.get("reason_code", "invalid_amount"),
                r.get("reason_detail", "Total='12,3x' is not a number"),
                r.get("raw_record", ""),
            ],
        )


def record_files(con: duckdb.DuckDBPyConnection, source: str, files: list[dict[str, Any]]) -> None:
    """Add meta.load_manifest rows (with ingest's `rows_waiting` addition); each dict needs
    file_path and the row counts."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(MANIFEST_DDL)
    for f in files:
        con.execute(
            "INSERT INTO meta.load_manifest "
            "VALUES (?, ?, 'sha', 100, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source,
                f["file_path"],
                f.get("status", "loaded"),
                f.get("rows_in_file"),
                f.get("rows_loaded"),
                f.get("rows_quarantined"),
                f.get("rows_waiting", 0),
                f.get("min_partition_date", DAY),
                f.get("max_partition_date", DAY),
                LOADED_AT,
                f.get("loaded_at", LOADED_AT),
            ],
        )
