"""Tests for pipelines/generate: native formats, determinism, planted customers, mess, RFM.

The files are read back the way an ingest would: DuckDB's CSV/JSON readers (every column as
text) plus a few SQL casts, never the generator's own frames.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import PLANTED, generate, transactions_for_target
from pipelines.generate.sources import crm, paypal, pos, shopify, support

END = date(2024, 12, 30)
STRIPE_KEYS = {
    "id", "object", "amount", "amount_captured", "amount_refunded", "billing_details", "captured",
    "created", "currency", "customer", "description", "disputed", "failure_code",
    "failure_message", "livemode", "metadata", "paid", "receipt_email", "refunded", "status",
}  # fmt: skip
EVENT_KEYS = {"event", "timestamp", "email", "anonymous_id", "properties"}

# SEGMENTS.md: (r_score, fm_score) -> Putler segment, every cell exactly once.
RFM_SEGMENTS = {
    5: ["New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalist", "Loyal Customers", "Champions", "Champions"],
    3: ["Promising", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "At Risk"],
    1: ["Lost", "Lost", "At Risk", "Can't Lose Them", "Can't Lose Them"],
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory):
    """The default sample (2000 customers, 730 days), without broken rows."""
    return generate(tmp_path_factory.mktemp("clean"), end_date=END, bad_row_rate=0.0)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory):
    """A small sample with 5% broken rows."""
    landing = tmp_path_factory.mktemp("dirty")
    return generate(landing, customers=300, days=120, end_date=END, bad_row_rate=0.05)


# --- reading the files back -------------------------------------------------------------------


def _db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    return con


def _csv(landing: Path, pattern: str, delimiter: str = ",") -> str:
    """SQL for the CSV files matching `pattern`, every column as text."""
    path = f"{landing}/{pattern}"
    return f"read_csv('{path}', all_varchar = true, delim = '{delimiter}', header = true)"


def _values(con: duckdb.DuckDBPyConnection, sql: str) -> set:
    return {row[0] for row in con.execute(sql).fetchall()}


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def _json_lines(landing: Path, pattern: str) -> list[str]:
    return [line for p in sorted(landing.glob(pattern)) for line in p.read_text().splitlines()]


def _json(landing: Path, pattern: str) -> list[dict]:
    return [json.loads(line) for line in _json_lines(landing, pattern)]


def _header(path: Path, delimiter: str = ",") -> tuple[str, ...]:
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(next(csv.reader(f, delimiter=delimiter)))


def _amount(column: str) -> str:
    """SQL: a money column as DECIMAL, thousands separators removed (PayPal '1,234.56')."""
    return f"try_cast(replace(\"{column}\", ',', '') as decimal(18, 2))"


# --- formats ------------------------------------------------------------------------------


def test_every_file_has_its_native_header(clean):
    landing = clean.landing_dir
    expected = {
        "shopify/orders_export_*.csv": (shopify.COLUMNS, ","),
        "paypal/activity_*.csv": (paypal.COLUMNS, ","),
        "support/tickets_*.csv": (support.COLUMNS, ","),
        "generic/pos/sales_*.csv": (pos.COLUMNS, ";"),
        "crm/contacts.csv": (crm.COLUMNS, ","),
        "fx/rates.csv": (("date", "currency", "rate_to_USD"), ","),
    }
    for pattern, (columns, delimiter) in expected.items():
        files = sorted(landing.glob(pattern))
        assert files, pattern
        for path in files:
            assert _header(path, delimiter) == tuple(columns), path
    assert shopify.COLUMNS[:4] == ("Name", "Email", "Financial Status", "Paid at")
    assert all(set(charge) == STRIPE_KEYS for charge in _json(landing, "stripe/*.jsonl"))
    assert all(set(event) == EVENT_KEYS for event in _json(landing, "events/*.jsonl"))
    assert 'delimiter: ";"' in (landing / "generic/pos/mapping.yml").read_text()


def test_files_are_split_by_month_or_day_with_the_same_rows(tmp_path: Path):
    by_month = generate(tmp_path / "month", customers=150, days=45, end_date=END, split="month")
    by_day = generate(tmp_path / "day", customers=150, days=45, end_date=END, split="day")
    assert "shopify/orders_export_2024-12.csv" in by_month.files
    assert "shopify/orders_export_2024-12-30.csv" in by_day.files
    assert by_month.rows == by_day.rows
    for stem in ("shopify/orders_export", "stripe/charges", "events/events", "paypal/activity"):
        month_lines = sorted(_lines_without_header(tmp_path / "month", stem))
        assert month_lines == sorted(_lines_without_header(tmp_path / "day", stem)), stem


def _lines_without_header(landing: Path, stem: str) -> list[str]:
    lines = []
    for path in landing.glob(f"{stem}_*"):
        text = path.read_text().splitlines()
        lines += text[1:] if path.suffix == ".csv" else text
    return lines


def test_same_arguments_give_byte_identical_files(tmp_path: Path):
    first = generate(tmp_path / "a", customers=200, days=60, seed=7, end_date=END)
    second = generate(tmp_path / "b", customers=200, days=60, seed=7, end_date=END)
    assert first.files == second.files
    for relative in first.files:
        a, b = tmp_path / "a" / relative, tmp_path / "b" / relative
        assert a.read_bytes() == b.read_bytes(), relative
    generate(tmp_path / "c", customers=200, days=60, seed=8, end_date=END)
    contacts = "crm/contacts.csv"
    assert (tmp_path / "c" / contacts).read_bytes() != (tmp_path / "a" / contacts).read_bytes()


@pytest.mark.parametrize("split", ["month", "day"])
def test_events_file_by_file_are_the_all_at_once_sort_and_defects(split: str):
    """The events writer never holds two copies of all events (30M transactions: ~90M events):
    it sorts each kind of activity apart and merges file by file. What it writes must be the
    rows, order and defects of sorting everything at once and breaking rows along it."""
    from datetime import timedelta

    import polars as pl

    from pipelines.generate import writer
    from pipelines.generate.sources import events
    from pipelines.generate.world import build_world

    world = build_world(5, 300, END - timedelta(days=59), END)
    parts, rng = events._parts(world)
    window = pl.col("ts").is_between(world.start_epoch, world.end_epoch - 1)
    at_once = pl.concat(parts).filter(window).sort(events._ORDER)
    kinds = (writer.TRUNCATED, writer.BAD_TIMESTAMP)
    at_once = at_once.with_columns(bad=writer.defects(rng, at_once.height, 0.2, kinds))

    chunks = list(events._periods(world, split, 0.2))
    assert len(chunks) > 1 and all(c["_period"].n_unique() == 1 for c in chunks)
    by_file = pl.concat(chunks).drop("_period")
    assert by_file.equals(at_once)
    assert 0 < int((by_file["bad"] != writer.CLEAN).sum()) < by_file.height


def test_rerun_replaces_the_previous_files(tmp_path: Path):
    generate(tmp_path, customers=100, days=30, end_date=END, split="day")
    summary = generate(tmp_path, customers=100, days=30, end_date=END, split="month")
    on_disk = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert on_disk == set(summary.files)


# --- planted customers --------------------------------------------------------------------


def test_champion_orders_weekly_until_the_day_before_end(clean):
    con, orders = _db(), _csv(clean.landing_dir, "shopify/*.csv")
    count, last = con.execute(
        f'select count(*), max("Created at") from {orders} where "Email" = \'champion@example.com\''
    ).fetchone()
    assert count == len(clean.planted["champion"]["purchases"]) >= 100
    assert last.startswith("2024-12-29")


def test_anna_is_spelled_differently_in_each_system(clean):
    anna, con, landing = PLANTED["two_spellings"], _db(), clean.landing_dir
    orders = _csv(landing, "shopify/*.csv")
    shopify_emails = _values(
        con, f'select "Email" from {orders} where lower(trim("Email")) = \'{anna["email"]}\''
    )
    assert shopify_emails == {anna["spellings"]["shopify"]}
    stripe_emails = {
        c["billing_details"]["email"]
        for c in _json(landing, "stripe/*.jsonl")
        if (c["billing_details"]["email"] or "").strip().lower() == anna["email"]
    }
    assert stripe_emails == {anna["spellings"]["stripe"]}
    contacts = _csv(landing, "crm/contacts.csv")
    crm_phones = _values(
        con, f"select phone from {contacts} where lower(trim(email)) = '{anna['email']}'"
    )
    assert crm_phones == set(anna["crm_phones"])


def test_refund_charge_has_the_published_amounts(clean):
    refund = PLANTED["refund"]
    charges = [
        c for c in _json(clean.landing_dir, "stripe/*.jsonl") if c["id"] == refund["charge_id"]
    ]
    assert len(charges) == 1
    charge = charges[0]
    assert (charge["amount"], charge["amount_refunded"]) == (12_000, 4_500)
    assert (charge["currency"], charge["status"], charge["refunded"]) == ("usd", "succeeded", False)
    assert charge["customer"] == refund["customer_id"]
    assert refund["amount_minor"] - refund["amount_refunded_minor"] == refund["net_minor"]


def test_lost_bought_twice_about_700_days_before_end(clean):
    con, orders = _db(), _csv(clean.landing_dir, "shopify/*.csv")
    sql = f'select "Created at"[:10] from {orders} where "Email" = \'lost@example.com\''
    dates = sorted(_values(con, sql))
    assert dates == [p["date"] for p in clean.planted["lost"]["purchases"]]
    assert dates == ["2023-01-25", "2023-02-01"]


def test_guest_orders_carry_neither_email_nor_phone(clean):
    con, orders = _db(), _csv(clean.landing_dir, "shopify/*.csv")
    names = [p["source_id"] for p in clean.planted["guests"]["purchases"]]
    rows = con.execute(
        f'select "Name", "Email", "Billing Phone", "Billing Name" from {orders} where "Name" in ?',
        [names],
    ).fetchall()
    assert sorted(rows) == sorted((name, None, None, "Jan Kowalski") for name in names)


# --- the mess ingestion must handle ---------------------------------------------------------


def test_shopify_has_statuses_multi_line_orders_discounts_guests_and_offsets(clean):
    con, orders = _db(), _csv(clean.landing_dir, "shopify/*.csv")
    first_lines = f'{orders} where "Financial Status" is not null'
    statuses = _values(con, f'select distinct "Financial Status" from {first_lines}')
    assert {"paid", "refunded", "partially_refunded", "voided"} <= statuses
    assert _count(con, f'select count(*) from {orders} where "Financial Status" is null') > 0
    assert _count(con, f'select count(*) from {first_lines} and "Discount Code" is not null') > 0
    assert _count(con, f'select count(*) from {first_lines} and "Email" is null') > 2
    offsets = _values(con, f'select distinct right("Created at", 5) from {first_lines}')
    assert offsets == {"+0100", "+0200"}


def test_stripe_has_currencies_failures_refunds_disputes_and_discounts(clean):
    charges = _json(clean.landing_dir, "stripe/*.jsonl")
    assert {c["currency"] for c in charges} == {"usd", "eur", "gbp", "pln", "jpy"}
    assert any(c["status"] == "failed" and c["paid"] is False for c in charges)
    assert any(0 < c["amount_refunded"] < c["amount"] for c in charges)
    assert any(c["refunded"] for c in charges)
    assert any(c["disputed"] for c in charges)
    assert any("discount_code" in c["metadata"] for c in charges)


def test_jpy_is_zero_decimal_in_stripe(clean):
    """A yen charge is worth about as much as a dollar charge only if `amount` is whole yen."""
    charges = f"read_json('{clean.landing_dir}/stripe/*.jsonl', format = 'newline_delimited')"
    rates = _csv(clean.landing_dir, "fx/rates.csv")
    yen = f"(select avg(cast(rate_to_USD as double)) from {rates} where currency = 'JPY')"
    usd, jpy = (
        _db()
        .execute(
            f"""select median(amount / 100) filter (currency = 'usd'),
                   median(amount * {yen}) filter (currency = 'jpy')
            from {charges} where status = 'succeeded'"""
        )
        .fetchone()
    )
    assert 0.3 < jpy / usd < 3


def test_paypal_reversals_point_at_their_payment(clean):
    con, activity = _db(), _csv(clean.landing_dir, "paypal/*.csv")
    types = _values(con, f'select distinct "Type" from {activity}')
    assert {"Express Checkout Payment", "Payment Refund", "Chargeback"} <= types
    orphans = _count(
        con,
        f"""select count(*) from {activity} r where r."Reference Txn ID" is not null and not exists
            (select 1 from {activity} p where p."Transaction ID" = r."Reference Txn ID")""",
    )
    assert orphans == 0
    assert _count(con, f"select count(*) from {activity} where \"Gross\" like '%,%'") > 0
    assert _count(con, f"select count(*) from {activity} where \"Gross\" like '-%'") > 0


def test_crm_has_duplicates_blank_emails_prospects_and_mixed_countries(clean):
    con, contacts = _db(), _csv(clean.landing_dir, "crm/contacts.csv")
    duplicates, blank, prospects = con.execute(
        f"""select count(email) - count(distinct lower(trim(email))),
                   count(*) filter (email is null),
                   count(*) filter (lifecycle_stage <> 'customer')
            from {contacts}"""
    ).fetchone()
    assert duplicates > 0 and blank > 0 and prospects > 0
    assert {"Poland", "PL"} <= _values(con, f"select distinct country from {contacts}")


def test_events_and_tickets_cover_every_type(clean):
    events = _json(clean.landing_dir, "events/*.jsonl")
    kinds = {"session_start", "page_view", "email_open", "email_click", "add_to_cart"}
    assert {e["event"] for e in events} == kinds
    assert any(e["email"] is None for e in events) and any(
        e["anonymous_id"] is None for e in events
    )
    assert 2.5 < len(events) / clean.transactions < 3.5
    con, tickets = _db(), _csv(clean.landing_dir, "support/*.csv")
    assert _values(con, f"select distinct type from {tickets}") == {
        "question",
        "complaint",
        "return",
    }


# --- broken rows ----------------------------------------------------------------------------


def test_clean_sample_has_no_malformed_rows(clean):
    assert sum(clean.bad_rows.values()) == 0
    broken = _broken_rows(clean.landing_dir)
    assert broken == dict.fromkeys(broken, 0)


def test_broken_rows_are_exactly_the_ones_reported(dirty):
    broken = _broken_rows(dirty.landing_dir)
    assert broken == {source: dirty.bad_rows[source] for source in broken}
    assert all(count > 0 for count in broken.values()), broken


def _broken_rows(landing: Path) -> dict[str, int]:
    """Rows an ingest would reject, per source, found by reading the files back."""
    con = _db()
    orders, activity = _csv(landing, "shopify/*.csv"), _csv(landing, "paypal/*.csv")
    sales, tickets = _csv(landing, "generic/pos/sales_*.csv", ";"), _csv(landing, "support/*.csv")
    contacts, rates = _csv(landing, "crm/contacts.csv"), _csv(landing, "fx/rates.csv")
    counts = {
        "shopify": f"""select count(*) from {orders} where "Financial Status" is not null and
            ({_amount("Total")} is null
             or try_strptime("Created at", '%Y-%m-%d %H:%M:%S %z') is null)""",
        "paypal": f"""select count(*) from {activity} where {_amount("Gross")} is null
            or try_strptime("Date", '%d/%m/%Y') is null""",
        "generic/pos": f"""select count(*) from {sales} where {_amount("total")} is null
            or try_strptime(sold_at, '%d.%m.%Y %H:%M') is null""",
        "support": f"""select count(*) from {tickets}
            where try_cast(created_at as timestamptz) is null""",
        "crm": f"""select count(*) from {contacts}
            where try_strptime(created_at, '%Y-%m-%d %H:%M:%S') is null
               or (birth_date is not null and try_strptime(birth_date, '%Y-%m-%d') is null)""",
        "fx": f"""select count(*) from {rates}
            where try_cast(rate_to_USD as decimal(18, 8)) is null
               or try_cast(date as date) is null""",
    }
    broken = {source: _count(con, sql) for source, sql in counts.items()}
    broken["stripe"] = sum(
        not _valid_charge(line) for line in _json_lines(landing, "stripe/*.jsonl")
    )
    broken["events"] = sum(
        not _valid_event(line) for line in _json_lines(landing, "events/*.jsonl")
    )
    return broken


def _valid_charge(line: str) -> bool:
    try:
        charge = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(charge["amount"], int) and isinstance(charge["created"], int)


def _valid_event(line: str) -> bool:
    try:
        return json.loads(line)["timestamp"].endswith("Z")
    except json.JSONDecodeError:
        return False


# --- segments -------------------------------------------------------------------------------


def test_every_rfm_segment_has_members_on_the_default_sample(clean):
    """Putler's eleven segments, scored by quintiles with shared ties over 730 days."""
    segments = dict(_rfm_segments(clean.landing_dir, clean.end_date))
    members = Counter(segments.values())
    assert set(members) == {name for row in RFM_SEGMENTS.values() for name in row}, members
    assert segments["champion@example.com"] == PLANTED["champion"]["expected_rfm_segment"]
    assert segments["lost@example.com"] == PLANTED["lost"]["expected_rfm_segment"]


def _rfm_segments(landing: Path, as_of: date) -> list[tuple[str, str]]:
    """(customer, segment) straight from the files: email (or loyalty card) as the customer,
    net of refunds, in USD at the last known rate, scored over the whole sample."""
    con = _db()
    cells = [(r, fm + 1, name) for r, row in RFM_SEGMENTS.items() for fm, name in enumerate(row)]
    con.execute("create table segment_map (r int, fm int, segment varchar)")
    con.executemany("insert into segment_map values (?, ?, ?)", cells)
    orders, activity = _csv(landing, "shopify/*.csv"), _csv(landing, "paypal/*.csv")
    sales, rates = _csv(landing, "generic/pos/sales_*.csv", ";"), _csv(landing, "fx/rates.csv")
    charges = f"read_json('{landing}/stripe/*.jsonl', format = 'newline_delimited')"
    created_at = "strptime(\"Created at\", '%Y-%m-%d %H:%M:%S %z')"
    return con.execute(f"""
        with purchases as (
            select coalesce(lower(trim("Email")), "Name") as customer,
                   cast({created_at} as date) as day, true as is_order, "Currency" as currency,
                   {_amount("Total")} - {_amount("Refunded Amount")} as amount
            from {orders} where "Financial Status" in ('paid', 'refunded', 'partially_refunded')
            union all
            select coalesce(lower(trim(billing_details.email)), lower(trim(receipt_email)),
                            customer, id),
                   cast(to_timestamp(created) as date), true, upper(currency),
                   (amount - amount_refunded) / case when currency = 'jpy' then 1 else 100 end
            from {charges} where status = 'succeeded'
            union all
            select lower(trim("From Email Address")), cast(strptime("Date", '%d/%m/%Y') as date),
                   "Reference Txn ID" is null, "Currency", {_amount("Gross")}
            from {activity}
            union all
            select loyalty_card, cast(strptime(min(sold_at), '%d.%m.%Y %H:%M') as date),
                   sum({_amount("total")}) > 0, 'PLN', sum({_amount("total")})
            from {sales} group by receipt_no, loyalty_card
        ),
        fx as (
            select cast(date as date) as day, currency, cast(rate_to_USD as double) as rate
            from {rates}
        ),
        in_usd as (
            select p.customer, p.day, p.is_order, p.amount * fx.rate as amount_usd
            from purchases as p asof join fx on p.currency = fx.currency and p.day >= fx.day
        ),
        facts as (
            select customer, date '{as_of}' - max(day) filter (is_order) as recency,
                   count(*) filter (is_order) as frequency, sum(amount_usd) as monetary
            from in_usd group by customer having count(*) filter (is_order) > 0
        ),
        scored as (
            -- rank() gives tied values the same (lowest) rank, hence the same score. Integers:
            -- DuckDB's // on a DOUBLE is plain division, which would break fm_score below.
            select customer,
                   cast(1 + floor(5 * (rank() over (order by recency desc) - 1)
                                  / count(*) over ()) as int) as r,
                   cast(1 + floor(5 * (rank() over (order by frequency) - 1)
                                  / count(*) over ()) as int) as f,
                   cast(1 + floor(5 * (rank() over (order by monetary) - 1)
                                  / count(*) over ()) as int) as m
            from facts
        )
        select customer, segment
        from scored join segment_map
            on segment_map.r = scored.r and segment_map.fm = (scored.f + scored.m + 1) // 2
    """).fetchall()


# --- sizing and arguments -------------------------------------------------------------------


def test_transactions_for_target_gives_the_customers_for_about_that_many(clean):
    customers = transactions_for_target(clean.transactions)
    assert 0.85 * clean.customers < customers < 1.15 * clean.customers


def test_bad_arguments_name_the_setting(tmp_path: Path):
    with pytest.raises(ValueError, match="split='week'"):
        generate(tmp_path, customers=10, split="week")
    with pytest.raises(ValueError, match="SEGMENTS_REPORTING_CURRENCY"):
        generate(tmp_path, customers=10, reporting_currency="CHF")
    with pytest.raises(ValueError, match="bad_row_rate"):
        generate(tmp_path, customers=10, bad_row_rate=0.9)


def test_rates_are_in_the_reporting_currency_on_weekdays_only(tmp_path: Path):
    generate(tmp_path, customers=50, days=30, end_date=END, reporting_currency="eur")
    with (tmp_path / "fx/rates.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"date", "currency", "rate_to_EUR"}
    assert {r["rate_to_EUR"] for r in rows if r["currency"] == "EUR"} == {"1.00000000"}
    assert {date.fromisoformat(r["date"]).weekday() for r in rows} == {0, 1, 2, 3, 4}
