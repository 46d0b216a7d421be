"""Raw and meta tables exactly as docs/raw_tables.md defines them, with rows for dbt tests.

Two data sets, both written straight into a DuckDB file the way ingestion would leave it:

- `write_scenario(path)`: a handful of hand-written rows with known answers (one person under
  two email spellings, two guests, a refund, a chargeback, a JPY charge on a weekend, ...).
  `AS_OF` is the as-of date the scenario is built for; `test_dbt_build.py` asserts on it.
- `write_synthetic(path, transactions=...)`: a large random data set generated in SQL, for
  timing dbt at scale (`python tests/dbt/raw_fixtures.py /tmp/big.duckdb 10000000`).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

AS_OF = date(2024, 6, 30)
LOADED_AT = datetime(2024, 7, 1, 2, 0, 0)

LINEAGE = {
    "_source_file": "VARCHAR",
    "_source_line": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_partition_date": "DATE",
}

# docs/raw_tables.md, column for column (lineage columns come last).
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
        "created_at": "TIMESTAMP",
        "lifecycle_stage": "VARCHAR",
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

# The column whose date is the row's `_partition_date` (reference tables: the load date).
PARTITION_COLUMN = {
    "shopify_orders": "created_at",
    "stripe_charges": "created_at",
    "paypal_activity": "occurred_at",
    "events": "occurred_at",
    "support_tickets": "created_at",
    "generic_transactions": "occurred_at",
}


# The customer_key secret of every fixture build database (the pipeline makes a random one
# per warehouse: pipelines/defs/warehouse/customer_key.py).
KEY_SECRET = "f1" * 32


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty raw.* and meta.run_as_of_dates tables with the contract's columns and types, and
    meta.customer_key_secret = KEY_SECRET."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists meta")
    for table, columns in RAW_COLUMNS.items():
        cols = ", ".join(f"{name} {kind}" for name, kind in {**columns, **LINEAGE}.items())
        con.execute(f"create or replace table raw.{table} ({cols})")
    con.execute("create or replace table meta.run_as_of_dates (as_of_date date not null)")
    con.execute("create or replace table meta.customer_key_secret (secret varchar not null)")
    con.execute("insert into meta.customer_key_secret values (?)", [KEY_SECRET])


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts of contract columns; missing keys are NULL) with lineage filled in."""
    columns = list(RAW_COLUMNS[table])
    source = table.split("_")[0]
    values = []
    for line, row in enumerate(rows, start=2):
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(
                f"raw.{table} has no column(s) {sorted(unknown)}; see docs/raw_tables.md"
            )
        moment = row.get(PARTITION_COLUMN.get(table, ""))
        partition = moment.date() if isinstance(moment, datetime) else LOADED_AT.date()
        values.append(
            [row.get(c) for c in columns] + [f"{source}/fixture.csv", line, LOADED_AT, partition]
        )
    placeholders = ", ".join("?" for _ in range(len(columns) + len(LINEAGE)))
    con.executemany(f"insert into raw.{table} values ({placeholders})", values)


def set_as_of_dates(con: duckdb.DuckDBPyConnection, dates: list[date]) -> None:
    """Replace meta.run_as_of_dates, as the pipeline does before each dbt run."""
    con.execute("delete from meta.run_as_of_dates")
    con.executemany("insert into meta.run_as_of_dates values (?)", [(d,) for d in dates])


def _at(day: str, time: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day} {time}")


def _shopify_order(
    order_id: str, created: str, lines: list[tuple[str, str, float]], **order: Any
) -> list[dict]:
    """Export lines of one order: order fields on every line (the reader forward-fills them)."""
    total = order.pop("total", sum(price for _, _, price in lines))
    head = {
        "order_name": f"#{order_id}",
        "order_id": order_id,
        "created_at": _at(created),
        "paid_at": _at(created, "10:05:00"),
        "financial_status": "paid",
        "currency": "USD",
        "subtotal": total,
        "shipping": 0,
        "taxes": 0,
        "total": total,
        "discount_amount": 0,
        "refunded_amount": 0,
        "source_name": "web",
        **order,
    }
    return [
        {
            **head,
            "line_number_in_order": n,
            "lineitem_quantity": 1,
            "lineitem_name": name,
            "lineitem_sku": sku,
            "lineitem_price": price,
        }
        for n, (name, sku, price) in enumerate(lines, start=1)
    ]


def scenario_rows() -> dict[str, list[dict[str, Any]]]:
    """The hand-written scenario. Every row is here for a reason the comment names."""
    anna_phone = "+48 601 234 567"
    shopify = [
        # Anna writes her email with capitals and a trailing space in Shopify.
        *_shopify_order(
            "1001",
            "2024-01-10",
            [("Linen Shirt", "APP-LINEN-002", 120.0), ("Mug", "HOM-MUG-001", 80.0)],
            email="Anna.K@Mail.com ",
            billing_phone=anna_phone,
            currency="PLN",
            billing_name="Anna Kowalczyk",
            billing_city="Kraków",
            billing_country="PL",
            tags="apparel, home",
        ),
        # Partially refunded, discounted, 10 days before the as-of date.
        *_shopify_order(
            "1002",
            "2024-06-20",
            [("Linen Shirt", "APP-LINEN-002", 150.0)],
            email="Anna.K@Mail.com ",
            currency="PLN",
            financial_status="partially_refunded",
            refunded_amount=50.0,
            discount_code="WELCOME10",
            discount_amount=15.0,
            billing_country="PL",
            tags="apparel",
        ),
        # Two guests with the same name and nothing else: two customers, never one.
        *_shopify_order(
            "1003",
            "2024-06-01",
            [("Scented Candle", "HOM-CANDLE-001", 30.0)],
            billing_name="Jan Kowalski",
            tags="home",
        ),
        *_shopify_order(
            "1004",
            "2024-06-10",
            [("Cookbook", "BOO-COOK-002", 40.0)],
            billing_name="Jan Kowalski",
            tags="books",
        ),
        # A voided order took no money: not a purchase, not a customer.
        *_shopify_order(
            "1005",
            "2024-06-05",
            [("Smart Watch", "ELE-WATCH-003", 199.0)],
            email="void@example.com",
            financial_status="voided",
            tags="electronics",
        ),
    ]
    stripe = [
        # Anna again, lower-case email, a Stripe customer id.
        {
            "charge_id": "ch_anna",
            "amount_minor": 10_000,
            "amount_refunded_minor": 0,
            "currency": "PLN",
            "created_at": _at("2024-05-15"),
            "customer_id": "cus_A",
            "billing_email": "anna.k@mail.com",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": '{"category": "apparel"}',
        },
        # Her declined attempt minutes earlier: not a purchase.
        {
            "charge_id": "ch_anna_failed",
            "amount_minor": 10_000,
            "amount_refunded_minor": 0,
            "currency": "PLN",
            "created_at": _at("2024-05-15", "09:50:00"),
            "customer_id": "cus_A",
            "billing_email": "anna.k@mail.com",
            "status": "failed",
            "is_paid": False,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": "{}",
        },
        # 120.00 USD with 45.00 refunded: net 75.00.
        {
            "charge_id": "ch_refund",
            "amount_minor": 12_000,
            "amount_refunded_minor": 4_500,
            "currency": "USD",
            "created_at": _at("2024-05-31"),
            "billing_email": "refund@example.com",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": '{"category": "footwear"}',
        },
        # Zero-decimal currency on a Saturday: 2900 yen at Friday's rate.
        {
            "charge_id": "ch_jpy",
            "amount_minor": 2_900,
            "amount_refunded_minor": 0,
            "currency": "JPY",
            "created_at": _at("2024-06-29"),
            "receipt_email": "Yuki@Example.JP",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "billing_country": "JP",
            "metadata": '{"category": "beauty", "discount_code": "SPRING15"}',
        },
        # A disputed charge: the difficult tier.
        {
            "charge_id": "ch_dispute",
            "amount_minor": 5_000,
            "amount_refunded_minor": 0,
            "currency": "USD",
            "created_at": _at("2024-04-01"),
            "billing_email": "difficult@example.com",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": True,
            "metadata": '{"category": "electronics"}',
        },
        # A guest card payment: its own customer.
        {
            "charge_id": "ch_guest",
            "amount_minor": 2_500,
            "amount_refunded_minor": 0,
            "currency": "USD",
            "created_at": _at("2024-06-15"),
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": "{}",
        },
        # Bob: first known by his Stripe customer id only, later with his email.
        {
            "charge_id": "ch_bob_1",
            "amount_minor": 3_000,
            "amount_refunded_minor": 0,
            "currency": "USD",
            "created_at": _at("2024-03-01"),
            "customer_id": "cus_B",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": "{}",
        },
        {
            "charge_id": "ch_bob_2",
            "amount_minor": 3_000,
            "amount_refunded_minor": 0,
            "currency": "USD",
            "created_at": _at("2024-04-01"),
            "customer_id": "cus_B",
            "billing_email": "bob@example.com",
            "status": "succeeded",
            "is_paid": True,
            "is_refunded": False,
            "is_disputed": False,
            "metadata": "{}",
        },
    ]
    paypal = [
        # Pat pays 80 EUR and gets 20 back; a second payment is charged back in full.
        {
            "transaction_id": "P1",
            "occurred_at": _at("2024-02-12"),
            "type": "Express Checkout Payment",
            "status": "Completed",
            "currency": "EUR",
            "gross": 80,
            "fee": -3.28,
            "net": 76.72,
            "from_email": "Pat@Example.com",
            "item_title": "Wool Throw",
            "quantity": 1,
            "country": "Germany",
        },
        {
            "transaction_id": "R1",
            "reference_transaction_id": "P1",
            "occurred_at": _at("2024-02-20"),
            "type": "Payment Refund",
            "status": "Completed",
            "currency": "EUR",
            "gross": -20,
            "fee": 0,
            "net": -20,
            "from_email": "Pat@Example.com",
            "quantity": 0,
            "country": "Germany",
        },
        {
            "transaction_id": "P2",
            "occurred_at": _at("2024-03-11"),
            "type": "Website Payment",
            "status": "Completed",
            "currency": "EUR",
            "gross": 60,
            "fee": -2.58,
            "net": 57.42,
            "from_email": "pat@example.com",
            "item_title": "Yoga Mat",
            "quantity": 1,
            "country": "DE",
        },
        {
            "transaction_id": "C1",
            "reference_transaction_id": "P2",
            "occurred_at": _at("2024-04-02"),
            "type": "Chargeback",
            "status": "Completed",
            "currency": "EUR",
            "gross": -60,
            "fee": 0,
            "net": -60,
            "from_email": "pat@example.com",
            "quantity": 0,
            "country": "DE",
        },
        # A pending payment took no money.
        {
            "transaction_id": "P3",
            "occurred_at": _at("2024-06-28"),
            "type": "Website Payment",
            "status": "Pending",
            "currency": "EUR",
            "gross": 45,
            "fee": 0,
            "net": 45,
            "from_email": "pending@example.com",
            "quantity": 1,
        },
        # Not a sale at all.
        {
            "transaction_id": "W1",
            "occurred_at": _at("2024-06-28"),
            "type": "General Withdrawal",
            "status": "Completed",
            "currency": "EUR",
            "gross": -500,
            "fee": 0,
            "net": -500,
        },
    ]
    generic = [
        # Anna's loyalty card at the till, linked to her by the phone written 00-style.
        {
            "source_name": "pos",
            "transaction_id": "R-1",
            "customer_id": "L1",
            "phone": "0048601234567",
            "occurred_at": _at("2024-06-25"),
            "amount": 30,
            "currency": "PLN",
            "quantity": 1,
            "category": "Home",
            "product_name": "Scented Candle",
        },
        {
            "source_name": "pos",
            "transaction_id": "R-1",
            "customer_id": "L1",
            "phone": "0048601234567",
            "occurred_at": _at("2024-06-25"),
            "amount": 20,
            "currency": "PLN",
            "quantity": 1,
            "category": "Home",
            "product_name": "Mug",
        },
        # ... and a return of the mug on its own receipt: a refund-only transaction.
        {
            "source_name": "pos",
            "transaction_id": "Z-1",
            "customer_id": "L1",
            "occurred_at": _at("2024-06-27"),
            "amount": -20,
            "currency": "PLN",
            "quantity": -1,
            "category": "Home",
            "product_name": "Mug",
        },
        # A loyalty card with nothing else: its own customer.
        {
            "source_name": "pos",
            "transaction_id": "R-2",
            "customer_id": "L2",
            "occurred_at": _at("2024-01-05"),
            "amount": 100,
            "currency": "PLN",
            "quantity": 2,
            "category": "Books",
            "product_name": "Cookbook",
        },
    ]
    crm = [
        # Anna, twice: two spellings, two phone formats, a later record that withdrew consent.
        {
            "email": "anna.k@mail.com",
            "first_name": "Anna",
            "last_name": "Kowalczyk",
            "phone": anna_phone,
            "birth_date": date(1990, 5, 1),
            "gender": "F",
            "city": "Kraków",
            "country": "Poland",
            "created_at": _at("2023-12-01"),
            "lifecycle_stage": "customer",
            "marketing_consent": True,
        },
        {
            "email": "ANNA.K@MAIL.COM",
            "first_name": "Anna",
            "last_name": "Kowalczyk",
            "phone": "0048601234567",
            "gender": "female",
            "city": "Kraków",
            "country": "PL",
            "created_at": _at("2024-02-01"),
            "lifecycle_stage": "customer",
            "marketing_consent": False,
        },
        # A prospect: known, never bought.
        {
            "email": "prospect@example.com",
            "first_name": "Paula",
            "birth_date": date(2001, 1, 15),
            "gender": "f",
            "country": "United Kingdom",
            "created_at": _at("2024-03-01"),
            "lifecycle_stage": "lead",
            "marketing_consent": True,
        },
        # Phone only; and a record with neither (dropped).
        {
            "first_name": "Phoebe",
            "phone": "+1 (555) 010-0200",
            "created_at": _at("2024-03-02"),
            "lifecycle_stage": "lead",
            "marketing_consent": False,
        },
        {"first_name": "Nobody", "created_at": _at("2024-03-03"), "lifecycle_stage": "lead"},
    ]
    events = [
        # Anna, logged in on the web (links anon-anna to her), then the email tool.
        {
            "event": "session_start",
            "occurred_at": _at("2024-06-24"),
            "email": "anna.k@mail.com",
            "anonymous_id": "anon-anna",
            "properties": "{}",
        },
        {
            "event": "page_view",
            "occurred_at": _at("2024-06-26"),
            "anonymous_id": "anon-anna",
            "properties": "{}",
        },
        {
            "event": "email_open",
            "occurred_at": _at("2024-06-28"),
            "email": "Anna.K@mail.com",
            "properties": "{}",
        },
        {
            "event": "email_click",
            "occurred_at": _at("2024-06-28", "10:01:00"),
            "email": "anna.k@mail.com",
            "properties": "{}",
        },
        # A browser, not a buyer: four sessions this month, no purchase.
        *[
            {
                "event": "session_start",
                "occurred_at": _at(f"2024-06-{d:02d}"),
                "email": "browser@example.com",
                "anonymous_id": "anon-browser",
                "properties": "{}",
            }
            for d in (3, 10, 17, 24)
        ],
        # An anonymous visitor who never logs in: not a customer.
        {
            "event": "session_start",
            "occurred_at": _at("2024-06-20"),
            "anonymous_id": "anon-stranger",
            "properties": "{}",
        },
    ]
    support = [
        *[
            {
                "ticket_id": f"T{i}",
                "requester_email": "Difficult@example.com",
                "created_at": _at(day),
                "type": "complaint",
                "status": "open",
            }
            for i, day in enumerate(("2024-04-03", "2024-05-03", "2024-06-03"), 1)
        ],
        {
            "ticket_id": "T9",
            "requester_email": "anna.k@mail.com",
            "created_at": _at("2024-06-21"),
            "type": "question",
            "status": "closed",
        },
    ]
    return {
        "shopify_orders": shopify,
        "stripe_charges": stripe,
        "paypal_activity": paypal,
        "generic_transactions": generic,
        "crm_contacts": crm,
        "events": events,
        "support_tickets": support,
    }


def _insert_fx_weekdays(
    con: duckdb.DuckDBPyConnection, start: date, end: date, rates: dict[str, float]
) -> None:
    """Daily rates on weekdays only (weekends missing, as the fx export has them)."""
    for currency, rate in rates.items():
        con.execute(
            """
            insert into raw.fx_rates
            select d::date, ?, ?, 'fx/rates.csv', row_number() over (order by d) + 1, ?, ?
            from range(?::date, ?::date + 1, interval 1 day) t(d)
            where dayofweek(d) between 1 and 5
            """,
            [currency, rate, LOADED_AT, LOADED_AT.date(), start, end],
        )


def write_scenario(path: Path, as_of_dates: list[date] | None = None) -> Path:
    """Create `path` with the raw scenario and meta.run_as_of_dates = as_of_dates or [AS_OF]."""
    with duckdb.connect(str(path)) as con:
        create_tables(con)
        for table, rows in scenario_rows().items():
            insert_rows(con, table, rows)
        _insert_fx_weekdays(
            con, date(2023, 12, 1), AS_OF, {"PLN": 0.25, "EUR": 1.08, "JPY": 0.0067}
        )
        set_as_of_dates(con, as_of_dates or [AS_OF])
    return path


def write_synthetic(
    path: Path, transactions: int = 100_000, as_of_dates: list[date] | None = None
) -> Path:
    """A random data set of about `transactions` purchases over two years, in SQL (fast).

    One customer per ~8 transactions; 60% Shopify (1-3 lines), 20% Stripe, 10% PayPal, 10% POS;
    3 events per transaction, a CRM record for 80% of customers, fx for every weekday, and
    one browser per 20 customers who has sessions but never buys.
    """
    customers = max(10, transactions // 8)
    end = date(2024, 6, 30)
    start = end - timedelta(days=729)
    with duckdb.connect(str(path)) as con:
        create_tables(con)
        con.execute(f"""
            create temp table txn as
            select
                i,
                hash(i, 'c') % {customers} as customer,
                timestamp '{start}' + to_seconds((hash(i, 't') % (730 * 86400))::bigint) as txn_at,
                hash(i, 'k') % 10 as kind,
                (hash(i, 'a') % 20000) / 100.0 + 5 as amount,
                ['USD', 'EUR', 'PLN', 'GBP', 'JPY'][(hash(i, 'cur') % 5)::int + 1] as currency,
                ['apparel', 'home', 'books', 'beauty', 'sports'][(hash(i, 'cat') % 5)::int + 1] as category,
                hash(i, 'r') % 20 = 0 as refunded,
                hash(i, 'd') % 4 = 0 as discounted
            from range({transactions}) t(i)
        """)
        loaded = f"timestamp '{LOADED_AT}'"
        email = "'c' || customer || '@example.com'"
        phone = "'+4860' || lpad(customer::varchar, 7, '0')"
        con.execute(f"""
            insert into raw.shopify_orders
            select '#' || i, 'S' || i, line, case when line = 1 then upper({email}) || ' ' else {email} end,
                   case when refunded then 'partially_refunded' else 'paid' end, txn_at, txn_at, currency,
                   amount, 0, 0, amount, case when discounted then 5 else 0 end,
                   case when refunded then round(amount / 3, 2) else 0 end,
                   case when discounted then 'WELCOME10' end, 1, 'Item', 'SKU', amount,
                   'Name ' || customer, 'City', 'PL', {phone}, category, 'web',
                   'shopify/s.csv', i, {loaded}, txn_at::date
            from txn, range(1, 1 + (hash(i, 'l') % 3)::int + 1) l(line)
            where kind < 6
        """)
        con.execute(f"""
            insert into raw.stripe_charges
            select 'ch_' || i, (amount * case when currency = 'JPY' then 1 else 100 end)::bigint,
                   case when refunded then (amount * 30)::bigint else 0 end, currency, txn_at,
                   'cus_' || customer, {email}, 'Name', null, 'City', 'US', {email},
                   case when i % 50 = 0 then 'failed' else 'succeeded' end, i % 50 <> 0, false,
                   i % 250 = 0, 'Item', json_object('category', category), 'stripe/s.jsonl', i,
                   {loaded}, txn_at::date
            from txn where kind between 6 and 7
        """)
        con.execute(f"""
            insert into raw.paypal_activity
            select 'P' || i, null, txn_at, 'Name', 'Express Checkout Payment', 'Completed', currency,
                   amount, -1, amount - 1, {email}, 'Item', 1, 'Poland', null,
                   'paypal/p.csv', i, {loaded}, txn_at::date
            from txn where kind = 8
            union all
            select 'R' || i, 'P' || i, txn_at + interval 2 day, 'Name', 'Payment Refund', 'Completed',
                   currency, -round(amount / 2, 2), 0, -round(amount / 2, 2), {email}, null, 0,
                   'Poland', null, 'paypal/p.csv', i, {loaded}, txn_at::date
            from txn where kind = 8 and refunded
        """)
        con.execute(f"""
            insert into raw.generic_transactions
            select 'pos', 'G' || i, 'L' || customer, null, {phone}, txn_at, amount, 'PLN', 1, category,
                   'Item', 'PL', 'generic/pos/g.csv', i, {loaded}, txn_at::date
            from txn where kind = 9
        """)
        con.execute(f"""
            insert into raw.crm_contacts
            select {email}, 'First', 'Last', {phone}, date '1980-01-01' + (customer % 15000)::int,
                   ['female', 'male', 'F'][(customer % 3)::int + 1], 'City', 'Poland',
                   timestamp '{start}' + to_seconds((customer % 700 * 86400)::bigint), 'customer',
                   customer % 2 = 0, 'crm/contacts.csv', customer, {loaded}, date '{LOADED_AT.date()}'
            from range({customers}) c(customer) where customer % 5 <> 0
        """)
        con.execute(f"""
            insert into raw.events
            select ['session_start', 'page_view', 'email_open', 'email_click', 'add_to_cart'][(hash(i, 'e') % 5)::int + 1],
                   txn_at - to_seconds((hash(i, 'o') % (20 * 86400))::bigint),
                   case when i % 3 = 0 then null else {email} end, 'anon-' || customer, '{{}}',
                   'events/e.jsonl', i, {loaded}, txn_at::date
            from (select i * 3 + k as i, customer, txn_at from txn, range(3) r(k))
        """)
        # Browsers who never buy: one visitor per 20 customers, four sessions in the last
        # three weeks and no purchase anywhere (customer numbers past the buyers').
        con.execute(f"""
            insert into raw.events
            select 'session_start', timestamp '{end}' - to_seconds((k * 5 * 86400 + 3600)::bigint),
                   {email}, 'anon-' || customer, '{{}}', 'events/e.jsonl',
                   {transactions * 3} + customer * 4 + k, {loaded},
                   (timestamp '{end}' - to_seconds((k * 5 * 86400 + 3600)::bigint))::date
            from range({customers}, {customers} + {customers} // 20 + 1) c(customer), range(4) r(k)
        """)
        con.execute(f"""
            insert into raw.support_tickets
            select 'T' || i, {email}, txn_at + interval 1 day, ['question', 'complaint', 'return'][(i % 3)::int + 1],
                   'open', 'support/t.csv', i, {loaded}, txn_at::date
            from txn where i % 40 = 0
        """)
        # rates from 10 days before the first transaction (as the sample generator writes
        # them): a weekend purchase on day one needs Friday's rate, never Monday's
        _insert_fx_weekdays(
            con,
            start - timedelta(days=10),
            end,
            {"EUR": 1.08, "PLN": 0.25, "GBP": 1.27, "JPY": 0.0067},
        )
        set_as_of_dates(con, as_of_dates or [end])
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.unlink(missing_ok=True)
    if len(sys.argv) > 2:
        write_synthetic(target, transactions=int(sys.argv[2]))
    else:
        write_scenario(target)
    print(f"wrote {target}")
