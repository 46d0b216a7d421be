"""No email or phone planted in a free-text field reaches a published byte (issue 11).

Regression: a Shopify tag holding the customer's email became `preferred_category` /
`top_category` in segments.duckdb, Parquet, report.html and the export file names, with
PII publishing off. Here every free-text field of every source (tags, product names and
categories, vendor, shipping method, discount codes, cities, countries, item titles,
invoice numbers, CRM free fields, support subjects, event properties, Stripe metadata)
gets emails and phone numbers planted in a few rows; then a full refresh publishes, writes
Parquet, exports and the report, and every published byte is scanned, with
SEGMENTS_PUBLISH_PII off (the default). Export *contents* hold emails and phones by design
(0600, tests/defs/publish/test_exports.py); their file names must not.
"""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate

END = date(2026, 9, 30)
ROWS_PER_FIELD = 4  # planted rows per field per file: few enough not to trip the GX drift gates

CSV_FIELDS = {
    "shopify": [
        "Tags", "Lineitem name", "Lineitem sku", "Vendor", "Shipping Method", "Discount Code",
        "Billing City", "Billing Country", "Source",
    ],
    "paypal": ["Item Title", "Item ID", "Invoice Number", "Country", "Receipt ID"],
    "crm": ["city", "gender", "lifecycle_stage", "country"],
    "support": ["subject", "type", "priority"],
    "generic/pos": ["department", "item"],
}  # fmt: skip
JSON_FIELDS = {
    "stripe": [
        ("description",), ("metadata", "category"), ("metadata", "order_ref"),
        ("metadata", "discount_code"), ("billing_details", "address", "city"),
        ("billing_details", "address", "line1"), ("billing_details", "address", "country"),
    ],
    "events": [
        ("properties", "referrer"), ("properties", "path"), ("properties", "device"),
        ("properties", "sku"),
    ],
}  # fmt: skip
EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


class Planter:
    """Unique planted values: an email whose local part is a token (`leak<n>x`) that
    survives slugging into file names, or a phone whose digits (`4860055<nnnn>`) survive
    any normalisation; every third one the row's own customer email, as in the issue."""

    def __init__(self) -> None:
        self.n = 0
        self.tokens: set[str] = set()
        self.digits: set[str] = set()
        self.own_emails: set[str] = set()

    def value(self, own_email: str | None) -> str:
        self.n += 1
        kind = self.n % 3
        if kind == 0 and own_email and "@" in own_email:
            self.own_emails.add(own_email.strip().lower())
            return own_email
        if kind == 1:
            digits = f"4860055{self.n:04d}"
            self.digits.add(digits)
            return f"+48 600 55 {self.n:04d}"
        token = f"leak{self.n}x"
        self.tokens.add(token)
        return f"{token}@pii-probe.example"


def _plant_csv(path: Path, fields: list[str], email_field: str | None, planter: Planter) -> int:
    text = path.read_text(encoding="utf-8")
    delimiter = ";" if path.parent.name == "pos" else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header, body = rows[0], rows[1:]
    planted = 0
    for field in fields:
        col = header.index(field)
        own = header.index(email_field) if email_field in header else None
        for row in body[:ROWS_PER_FIELD]:
            row[col] = planter.value(row[own] if own is not None else None)
            planted += 1
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows([header, *body])
    return planted


def _set(obj: dict, path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = value


def _plant_jsonl(path: Path, fields: list[tuple[str, ...]], planter: Planter) -> int:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    planted = 0
    for field in fields:
        for record in lines[:ROWS_PER_FIELD]:
            own = record.get("email") or record.get("receipt_email")
            _set(record, field, planter.value(own))
            planted += 1
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return planted


EMAIL_COLUMNS = {"shopify": "Email", "paypal": "From Email Address", "crm": "email",
                 "support": "requester_email"}  # fmt: skip


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pii")
    env = {
        "SEGMENTS_LANDING_DIR": str(root / "landing"),
        "SEGMENTS_WAREHOUSE_DIR": str(root / "warehouse"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DAGSTER_HOME": str(root / "warehouse" / "dagster_home"),
        "SEGMENTS_PUBLISH_PII": "false",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    (root / "warehouse" / "dagster_home").mkdir(parents=True)
    try:
        generate(root / "landing", customers=150, days=200, seed=5, end_date=END)
        planter = Planter()
        planted = 0
        for source, fields in CSV_FIELDS.items():
            for path in sorted((root / "landing" / source).glob("*.csv")):
                planted += _plant_csv(path, fields, EMAIL_COLUMNS.get(source), planter)
        for source, fields in JSON_FIELDS.items():
            for path in sorted((root / "landing" / source).glob("*.jsonl")):
                planted += _plant_jsonl(path, fields, planter)
        assert planted > 200
        from pipelines.cli import main

        assert main(["run", "--as-of", END.isoformat()]) == 0
        yield {"root": root, "planter": planter}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _leaks(text: str, planter: Planter, *, any_email: bool = True) -> list[str]:
    """What in `text` (one published value, or a whole file's text) is planted or personal.
    `any_email=False` looks for the planted values only: in a binary file's bytes, compressed
    data matches the shape of an email now and then (`%J@WQQR4.PWWO` failed a CI run)."""
    low = text.lower()
    found = [t for t in planter.tokens if t in low]
    found += [e for e in planter.own_emails if e in low]
    if any_email:
        found += EMAIL.findall(text)
    if len(text) < 200:  # one value: any spelling of the number has its digits in a row
        digits_only = re.sub(r"\D", "", text)
        found += [d for d in planter.digits if d in digits_only]
    else:  # a whole file: the number with up to two separators between digits
        found += [d for d in planter.digits if re.search(r"[\s().+/-]{0,2}".join(d), text)]
    return found


def _table_values(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [str(v) for row in con.execute(f"select * from {relation}").fetchall() for v in row]


def test_the_planted_values_were_loaded(leaky):
    # The probe must reach the build: otherwise a clean publish proves nothing.
    with duckdb.connect(str(leaky["root"] / "warehouse" / "build.duckdb"), read_only=True) as con:
        loaded = " ".join(
            _table_values(con, "raw.shopify_orders") + _table_values(con, "raw.stripe_charges")
        )
    assert any(t in loaded for t in leaky["planter"].tokens)


def test_no_published_table_holds_a_planted_email_or_phone(leaky):
    published = leaky["root"] / "warehouse" / "segments.duckdb"
    leaks: dict[str, list[str]] = {}
    with duckdb.connect(str(published), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where not internal"
        ).fetchall()
        for schema, table in tables:
            for value in _table_values(con, f'"{schema}"."{table}"'):
                if found := _leaks(value, leaky["planter"]):
                    leaks.setdefault(f"{schema}.{table}", []).extend(found)
    assert len(tables) >= 5
    assert leaks == {}
    # the bytes too (dictionaries, comments, freed blocks): the planted values, by their tokens
    raw = published.read_bytes().decode("latin-1")
    assert _leaks(raw, leaky["planter"], any_email=False) == []


def test_no_parquet_file_holds_a_planted_email_or_phone(leaky):
    files = sorted((leaky["root"] / "warehouse" / "parquet" / "current").rglob("*.parquet"))
    leaks: dict[str, list[str]] = {}
    with duckdb.connect() as con:
        for path in files:
            for value in _table_values(con, f"read_parquet('{path}')"):
                if found := _leaks(value, leaky["planter"]):
                    leaks.setdefault(path.name, []).extend(found)
    assert len(files) >= 5
    assert leaks == {}


def test_report_and_export_file_names_hold_no_planted_value(leaky):
    warehouse = leaky["root"] / "warehouse"
    report = (warehouse / "report.html").read_text(encoding="utf-8")
    assert _leaks(report, leaky["planter"]) == []
    names = [p.relative_to(warehouse).as_posix() for p in (warehouse / "exports").rglob("*")]
    assert any(n.endswith(".csv") for n in names)
    assert {n: f for n in names if (f := _leaks(n, leaky["planter"]))} == {}


def test_withheld_labels_are_reported_with_file_and_line(leaky):
    build = leaky["root"] / "warehouse" / "build.duckdb"
    with duckdb.connect(str(build), read_only=True) as con:
        rows = con.execute(
            "select * from dbt_test__audit.assert_free_text_labels_hold_no_personal_data"
        ).fetchall()
        columns = [d[0] for d in con.description]
    reported = [dict(zip(columns, r, strict=True)) for r in rows]
    assert {r["source"] for r in reported} >= {"shopify", "stripe", "generic"}
    assert all(r["source_file"] and r["first_source_line"] for r in reported)
    # the report names where, never what: no planted value in the rows
    assert _leaks(" ".join(str(v) for r in rows for v in r), leaky["planter"]) == []
