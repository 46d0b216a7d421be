"""The whole graph on a small generated data set: ingest → dbt → checks → publish.

Asserts real values on the published file and the build database, not just "it ran".
"""

from __future__ import annotations

import csv
import os
import random
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import PLANTED, generate

END = date(2026, 9, 30)
RETAIL_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
RETAIL_MAPPING = """\
# The UCI "Online Retail" layout (one line per invoice line; cancellations are C-invoices
# with negative quantities), read by the generic source with no code.
timestamp_format: "%m/%d/%Y %H:%M"
currency: USD
columns:
  order_id: InvoiceNo
  product_name: Description
  quantity: Quantity
  timestamp: InvoiceDate
  unit_price: UnitPrice
  customer_id: CustomerID
  country: Country
"""


def stamp_of(at: datetime) -> str:
    """A timestamp as the original data set writes it: `9/1/2026 8:26`, no zero padding."""
    return f"{at.month}/{at.day}/{at.year} {at.hour}:{at.minute:02d}"


def write_online_retail(folder: Path, seed: int = 11) -> list[dict[str, str]]:
    """An Online-Retail-shaped export: 40 customers, invoices of 1-4 lines over the year
    before END, some cancelled later by a C-invoice, and guest invoices without CustomerID.
    Written like the original: dates as `9/1/2026 8:26`, no zero padding."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    invoice = 536000
    for customer in range(40):
        customer_id = str(17000 + customer) if customer < 36 else ""  # 4 guests
        for _ in range(rng.randint(1, 8)):
            invoice += 1
            at = datetime.combine(END, datetime.min.time()) - timedelta(
                days=rng.randint(0, 360), minutes=rng.randint(0, 600)
            )
            lines = [
                (rng.randint(1, 12), Decimal(rng.randint(39, 2500)) / 100)
                for _ in range(rng.randint(1, 4))
            ]
            stamp = stamp_of(at)
            for n, (qty, price) in enumerate(lines):
                rows.append(
                    {
                        "InvoiceNo": str(invoice),
                        "StockCode": f"8{n:04d}",
                        "Description": "MUG",
                        "Quantity": str(qty),
                        "InvoiceDate": stamp,
                        "UnitPrice": str(price),
                        "CustomerID": customer_id,
                        "Country": "United Kingdom",
                    }
                )
            if customer_id and rng.random() < 0.2 and at.date() < END - timedelta(days=2):
                qty, price = lines[0]
                back = at + timedelta(days=1)
                rows.append(
                    {
                        "InvoiceNo": f"C{invoice}",
                        "StockCode": "80000",
                        "Description": "MUG",
                        "Quantity": str(-qty),
                        "InvoiceDate": stamp_of(back),
                        "UnitPrice": str(price),
                        "CustomerID": customer_id,
                        "Country": "United Kingdom",
                    }
                )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.yml").write_text(RETAIL_MAPPING, encoding="utf-8")
    with (folder / "online_retail.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=RETAIL_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def independent_retail_facts(rows: list[dict[str, str]]) -> dict[str, dict]:
    """Per CustomerID, computed straight from the CSV: orders, first/last order date, gross,
    refunded and net revenue (a C-invoice refunds; it is no order)."""
    invoices: dict[str, dict] = {}
    for r in rows:
        inv = invoices.setdefault(r["InvoiceNo"], {"customer": r["CustomerID"], "amount": 0})
        inv["amount"] += int(r["Quantity"]) * Decimal(r["UnitPrice"])
        inv["date"] = datetime.strptime(r["InvoiceDate"], "%m/%d/%Y %H:%M").date()
    facts: dict[str, dict] = {}
    for inv in invoices.values():
        if not inv["customer"]:
            continue
        f = facts.setdefault(
            inv["customer"],
            {
                "orders": 0,
                "first": None,
                "last": None,
                "gross": Decimal(0),
                "refunded": Decimal(0),
            },
        )
        if inv["amount"] > 0:
            f["orders"] += 1
            f["gross"] += inv["amount"]
            f["first"] = min(filter(None, [f["first"], inv["date"]]))
            f["last"] = max(filter(None, [f["last"], inv["date"]]))
        else:
            f["refunded"] -= inv["amount"]
    for f in facts.values():
        f["net"] = f["gross"] - f["refunded"]
    return facts


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory):
    """One full refresh over ~14 months of sample data, shared by the assertions below."""
    root = tmp_path_factory.mktemp("e2e")
    env = {
        "SEGMENTS_LANDING_DIR": str(root / "landing"),
        "SEGMENTS_WAREHOUSE_DIR": str(root / "warehouse"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DAGSTER_HOME": str(root / "warehouse" / "dagster_home"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    (root / "warehouse" / "dagster_home").mkdir(parents=True)
    try:
        summary = generate(root / "landing", customers=300, days=420, seed=7, end_date=END)
        retail = write_online_retail(root / "landing" / "generic" / "online_retail")
        from pipelines.cli import main

        assert main(["run", "--as-of", END.isoformat()]) == 0
        yield {"root": root, "summary": summary, "main": main, "retail": retail}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _published(e2e) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(e2e["root"] / "warehouse" / "segments.duckdb"), read_only=True)


def _build(e2e) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(e2e["root"] / "warehouse" / "build.duckdb"), read_only=True)


def _customer_key(con: duckdb.DuckDBPyConnection, email: str) -> str:
    rows = con.execute(
        "select distinct customer_key from intermediate.int_customer_aliases "
        "where alias_type = 'email' and alias_value = ?",
        [email],
    ).fetchall()
    assert len(rows) == 1, f"{email} maps to {len(rows)} customer keys"
    return rows[0][0]


def test_published_file_opens_read_only_with_one_row_per_customer(e2e):
    with _published(e2e) as con:
        total, distinct, as_of = con.execute(
            "select count(*), count(distinct customer_key), max(as_of_date) from customer_segments"
        ).fetchone()
        with pytest.raises(duckdb.Error):
            con.execute("create table x (i int)")
    assert total == distinct > 250
    assert as_of == END


def test_planted_champion_is_a_champion(e2e):
    with _build(e2e) as build:
        key = _customer_key(build, PLANTED["champion"]["email"])
    with _published(e2e) as con:
        segment, r_score = con.execute(
            "select rfm_segment, r_score from customer_segments where customer_key = ?", [key]
        ).fetchone()
    assert (segment, r_score) == ("Champions", 5)


def test_planted_lost_customer_is_lost(e2e):
    with _build(e2e) as build:
        key = _customer_key(build, PLANTED["lost"]["email"])
    with _published(e2e) as con:
        segment = con.execute(
            "select rfm_segment from customer_segments where customer_key = ?", [key]
        ).fetchone()[0]
    assert segment == "Lost"


def test_refund_row_reduces_net_revenue_by_its_amount(e2e):
    planted = PLANTED["refund"]
    with _build(e2e) as con:
        gross, refunded, net = con.execute(
            "select gross_amount, refunded_amount, net_amount from marts.fct_transactions "
            "where transaction_id = ?",
            [planted["charge_id"]],
        ).fetchone()
    assert float(gross) == planted["amount_minor"] / 100
    assert float(refunded) == planted["amount_refunded_minor"] / 100
    assert float(net) == planted["net_minor"] / 100


def test_two_spellings_of_one_email_are_one_customer(e2e):
    spellings = PLANTED["two_spellings"]["spellings"]
    with _build(e2e) as con:
        keys = con.execute(
            "select distinct a.customer_key from intermediate.int_customer_aliases a "
            "where a.alias_type = 'email' and a.alias_value = lower(trim(?))",
            [spellings["shopify"]],
        ).fetchall()
        channels = con.execute(
            "select count(distinct source) from marts.fct_transactions where customer_key = ?",
            [keys[0][0]],
        ).fetchone()[0]
    assert len(keys) == 1
    assert channels == 2  # bought through Shopify and Stripe, stitched into one customer


def test_redropping_a_file_changes_nothing(e2e):
    root = e2e["root"]
    with _build(e2e) as con:
        before = con.execute(
            "select count(*), sum(_source_line) from raw.shopify_orders"
        ).fetchone()
    with _published(e2e) as con:
        published_before = con.execute(
            "select rfm_segment, count(*) from customer_segments group by 1 order by 1"
        ).fetchall()
        keys_before = con.execute(
            "select customer_key from customer_segments order by 1"
        ).fetchall()
    first = sorted((root / "landing" / "shopify").glob("*.csv"))[0]
    shutil.copy(first, first.with_name("copy_of_" + first.name))
    # What the daily schedule runs the next time: one partition, the latest day.
    assert e2e["main"](["backfill", "--from", END.isoformat(), "--to", END.isoformat()]) == 0
    with _build(e2e) as con:
        after = con.execute("select count(*), sum(_source_line) from raw.shopify_orders").fetchone()
        status = con.execute(
            "select status from meta.load_manifest where file_path like '%copy_of_%'"
        ).fetchone()[0]
    with _published(e2e) as con:
        published_after = con.execute(
            "select rfm_segment, count(*) from customer_segments group by 1 order by 1"
        ).fetchall()
        keys_after = con.execute("select customer_key from customer_segments order by 1").fetchall()
    assert after == before
    assert keys_after == keys_before  # keyed customer keys are stable from run to run
    assert status.startswith("duplicate_of:")
    assert published_after == published_before


def test_generic_online_retail_facts_match_an_independent_computation(e2e):
    expected = independent_retail_facts(e2e["retail"])
    guest_invoices = sorted({r["InvoiceNo"] for r in e2e["retail"] if not r["CustomerID"]})
    with _build(e2e) as con:
        rows = con.execute(
            """
            select any_value(t.transaction_id), f.orders_count, f.first_order_date,
                   f.last_order_date, f.gross_revenue, f.refunded_amount, f.net_revenue
            from marts.fct_transactions t
            join marts.customer_facts f using (customer_key)
            where t.channel = 'online_retail' and t.is_purchase
            group by all
            """
        ).fetchall()
        guests = con.execute(
            "select count(*), count(distinct split_part(raw_record, ',', 1)), "
            "count(*) filter (where reason_code = 'missing_required') from quarantine.generic "
            "where _source_file = 'generic/online_retail/online_retail.csv'"
        ).fetchone()
        loaded = con.execute(
            "select count(*) from raw.generic_transactions where source_name = 'online_retail'"
        ).fetchone()[0]
    by_invoice = {r["InvoiceNo"]: r["CustomerID"] for r in e2e["retail"]}
    actual = {
        by_invoice[invoice]: {
            "orders": orders,
            "first": first,
            "last": last,
            "gross": gross,
            "refunded": refunded,
            "net": net,
        }
        for invoice, orders, first, last, gross, refunded, net in rows
        if by_invoice[invoice]
    }
    assert len(expected) == 36 and actual == expected
    # Lines without a CustomerID have no identifier to stitch: they wait in quarantine with
    # their reason (docs/generic_source.md), and every line of the file is accounted for.
    guest_lines = sum(1 for r in e2e["retail"] if not r["CustomerID"])
    assert guests == (guest_lines, len(guest_invoices), guest_lines) and guest_lines > 0
    assert loaded + guest_lines == len(e2e["retail"])


def test_published_keys_resist_a_dictionary_attack(e2e):
    # Regression (issue 11): customer_key was md5('email:' || email), and every published key
    # was matched back to an email. An attacker holding every email, phone and account id
    # (here: every identifier and every raw value of the build) hashes them every way.
    warehouse = e2e["root"] / "warehouse"
    with _build(e2e) as con:
        con.execute(f"attach '{warehouse / 'segments.duckdb'}' as published (read_only)")
        raw_text = [
            f"select distinct {column} as v from raw.{table} where {column} is not null"
            for table, column in con.execute(
                "select table_name, column_name from duckdb_columns() "
                "where database_name = 'build' and schema_name = 'raw' "
                "and data_type = 'VARCHAR'"
            ).fetchall()
        ]
        con.execute(f"""
            create temp table known as
            select identifier as v from intermediate.int_customer_identity
            union select alias_value from intermediate.int_customer_identity
            union {" union ".join(raw_text)}
        """)
        con.execute("""
            create temp table guesses as
            with spelled as (
                select distinct s from known, unnest([v, lower(trim(v)), 'email:' || lower(trim(v)),
                    'phone:' || v, 'email:' || v]) as t(s)
            )
            select h from spelled, unnest([md5(s), sha1(s), sha256(s), left(sha256(s), 32)]) as u(h)
        """)
        anchors_known = con.execute(
            "select count(*) filter (where anchor_identifier in (select v from known)), count(*) "
            "from marts.dim_customers"
        ).fetchone()
        key_columns = con.execute(
            "select table_name from duckdb_columns() where database_name = 'published' "
            "and column_name = 'customer_key'"
        ).fetchall()
        matched = {
            table: con.execute(
                f"select count(distinct customer_key) from published.main.{table} "
                "where customer_key in (select h from guesses)"
            ).fetchone()[0]
            for (table,) in key_columns
        }
    # The attacker does know every anchor: with an unsalted hash every key would fall.
    assert anchors_known[0] == anchors_known[1] > 250
    assert len(key_columns) >= 3
    assert {t: n for t, n in matched.items() if n} == {}
    secret = (warehouse / "customer_key.secret").read_text().strip()
    assert (warehouse / "customer_key.secret").stat().st_mode & 0o777 == 0o600
    assert secret.encode() not in (warehouse / "segments.duckdb").read_bytes()
