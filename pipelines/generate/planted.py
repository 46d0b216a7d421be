"""Planted customers: known people with known purchases, for end-to-end assertions.

They are added on top of the random population, whatever the seed or size, and never get
broken rows, random refunds or duplicates. `PLANTED` holds what is fixed (emails, ids, amounts,
days before the end date); `GenerateSummary.planted` resolves it for one run (dates, order names).
Money is in minor units of the stated currency; planted orders carry no shipping, tax or discount,
so a total is exactly the sum of its lines.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from pipelines.generate.catalog import catalog
from pipelines.generate.population import with_identity
from pipelines.generate.purchases import LINE_SCHEMA, PURCHASE_SCHEMA, SECONDS_PER_DAY

PLANTED: dict[str, dict] = {
    "champion": {
        "email": "champion@example.com",
        "source": "shopify",
        "currency": "USD",
        "every_days": 7,  # an order every week, the last one the day before end_date
        "products": ["Wool Coat", "Smart Watch"],  # one of each per order
        "expected_rfm_segment": "Champions",
    },
    "two_spellings": {
        "email": "anna.k@mail.com",  # normalised (macro normalize_email) from both spellings
        "spellings": {"shopify": "Anna.K@Mail.com ", "stripe": "anna.k@mail.com"},
        "phone_e164": "+48601234567",
        "crm_phones": ["+48 601 234 567", "0048601234567"],  # one CRM contact, written twice
        "currency": "PLN",
        "days_before_end": {"shopify": [200, 120, 40], "stripe": [90, 15]},
        "product": "Linen Shirt",
    },
    "refund": {
        "email": "refund@example.com",
        "source": "stripe",
        "charge_id": "ch_3PlantedRefund0000000001",
        "customer_id": "cus_PlantedRefund01",
        "currency": "USD",
        "amount_minor": 12_000,
        "amount_refunded_minor": 4_500,
        "net_minor": 7_500,
        "days_before_end": 30,
    },
    "lost": {
        "email": "lost@example.com",
        "source": "shopify",
        "currency": "USD",
        "days_before_end": [705, 698],  # clipped into the window when `days` is shorter
        "product": "Lip Balm",
        "quantity": 2,
        "expected_rfm_segment": "Lost",
    },
    "guests": {
        "source": "shopify",
        "billing_name": "Jan Kowalski",  # the same name twice, and nothing else: two customers
        "currency": "PLN",
        "days_before_end": [50, 20],
        "products": ["Scented Candle", "Cookbook"],
    },
}

_PERSON_DEFAULTS = {
    "kind": "buyer", "second_channel": None, "gender": "female", "domain": "example.com",
    "email_pattern": 0, "age_days": 40 * 365, "consent": True, "difficult": False,
    "purchase_rate": 0.0, "dropout": 1.0, "price_level": 0.5, "preferred_category": 0,
    "discount_propensity": 0.0, "refund_propensity": 0.0, "signup_day": 0.0,
    "email_spelling_home": 0, "email_spelling_second": 0,
    "phone_format_home": 0, "phone_format_second": 3,
}  # fmt: skip
_JAN = {"home_channel": "shopify", "country": "PL", "first_name": "Jan", "last_name": "Kowalski",
        "city": "Warszawa", "gender": "male", "kind": "guest"}  # fmt: skip
# Who they are; emails come from PLANTED. Anna's Shopify spelling is text.email_spelling code 4
# ('Anna.K@Mail.com '), her Stripe one code 0 ('anna.k@mail.com').
_PEOPLE: dict[str, dict] = {
    "champion": {"home_channel": "shopify", "country": "US", "first_name": "Chris",
                 "last_name": "Champion", "city": "Chicago", "national_number": 3125550142,
                 "gender": "male", "signup_day": -30.0},
    "two_spellings": {"home_channel": "shopify", "second_channel": "stripe", "country": "PL",
                      "first_name": "Anna", "last_name": "Kowalczyk", "city": "Kraków",
                      "national_number": 601234567, "email_spelling_home": 4},
    "refund": {"home_channel": "stripe", "country": "US", "first_name": "Rita",
               "last_name": "Refund", "city": "Boston", "national_number": 6175550199,
               "stripe_customer": PLANTED["refund"]["customer_id"]},
    "lost": {"home_channel": "shopify", "country": "US", "first_name": "Larry", "gender": "male",
             "last_name": "Lost", "city": "Denver", "national_number": 7205550123},
    "guest_1": {**_JAN, "national_number": 501000001},
    "guest_2": {**_JAN, "national_number": 501000002},
}  # fmt: skip


def planted_people(first_id: int, template: pl.DataFrame) -> pl.DataFrame:
    """The planted people, shaped like `template` (the random population)."""
    rows = [
        {
            **_PERSON_DEFAULTS,
            "stripe_customer": f"cus_Planted{i:07d}",
            **person,
            "person_id": first_id + i,
            "planted": tag,
            "email": PLANTED.get(tag, {}).get("email"),
            "anonymous_id": f"{i:032x}",
        }
        for i, (tag, person) in enumerate(_PEOPLE.items())
    ]
    base = [c for c in template.columns if c in rows[0]]
    people = pl.DataFrame(rows).select(base)
    people = people.cast({c: template.schema[c] for c in base if c in template.schema})
    return with_identity(people).select(template.columns)


def _day_offsets(days_before_end: list[int], days: int) -> list[int]:
    """Days before end_date, clipped into a window of `days` days (keeping them distinct)."""
    return [min(d, days - 1 - i) for i, d in enumerate(days_before_end)]


def _schedule(days: int) -> list[tuple[str, str, int, list[tuple[str, int]], int]]:
    """Per purchase: (person tag, channel, days before end, [(product, qty)], refunded minor)."""
    p = PLANTED
    orders = [
        ("champion", "shopify", d, [(n, 1) for n in p["champion"]["products"]], 0)
        for d in range(1, days, p["champion"]["every_days"])
    ]
    anna = p["two_spellings"]
    for channel, offsets in anna["days_before_end"].items():
        orders += [
            ("two_spellings", channel, d, [(anna["product"], 1)], 0)
            for d in _day_offsets(offsets, days)
        ]
    refund = p["refund"]
    refund_day = min(refund["days_before_end"], days - 1)
    orders.append(("refund", "stripe", refund_day, [], refund["amount_refunded_minor"]))
    lost = p["lost"]
    orders += [
        ("lost", "shopify", d, [(lost["product"], lost["quantity"])], 0)
        for d in _day_offsets(lost["days_before_end"], days)
    ]
    guests = p["guests"]
    for i, (d, product) in enumerate(
        zip(_day_offsets(guests["days_before_end"], days), guests["products"], strict=True)
    ):
        orders.append((f"guest_{i + 1}", "shopify", d, [(product, 1)], 0))
    return orders


def _order_lines(key: int, items: list[tuple[str, int]], currency: str) -> list[dict]:
    """Line rows of one planted purchase, at the catalog's shelf price in `currency`."""
    if not items:  # the refund charge: a fixed amount, as one line of that price
        amount = PLANTED["refund"]["amount_minor"]
        return [
            {
                "purchase_key": key,
                "line_no": 1,
                "product_id": 0,
                "quantity": 1,
                "unit_minor": amount,
            }
        ]
    by_name = {row["name"]: row for row in catalog().iter_rows(named=True)}
    return [
        {"purchase_key": key, "line_no": line_no, "product_id": by_name[name]["product_id"],
         "quantity": qty, "unit_minor": by_name[name][f"price_minor_{currency}"]}
        for line_no, (name, qty) in enumerate(items, start=1)
    ]  # fmt: skip


def planted_purchases(
    people: pl.DataFrame, days: int, end_date: date, first_key: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchases and lines of the planted people (schemas of purchases.price): no discount,
    shipping, tax or dispute, so a total is the sum of its lines, at 14:02:11 UTC."""
    ids = dict(zip(people["planted"].to_list(), people["person_id"].to_list(), strict=True))
    currency = dict(zip(people["planted"].to_list(), people["currency"].to_list(), strict=True))
    end_epoch = (end_date - date(1970, 1, 1)).days * SECONDS_PER_DAY
    orders, lines = [], []
    for key, (tag, channel, days_before, items, refunded) in enumerate(_schedule(days), first_key):
        order_lines = _order_lines(key, items, currency[tag])
        total = sum(line["quantity"] * line["unit_minor"] for line in order_lines)
        ts = end_epoch - days_before * SECONDS_PER_DAY + 14 * 3600 + 2 * 60 + 11
        lines += order_lines
        orders.append({
            "purchase_key": key, "person_id": ids[tag], "channel": channel, "ts": ts,
            "currency": currency[tag], "discount_code": None, "discount_minor": 0,
            "subtotal_minor": total, "shipping_minor": 0, "taxes_minor": 0, "total_minor": total,
            "status": "partially_refunded" if refunded else "paid", "refunded_minor": refunded,
            "refund_ts": ts + 3 * SECONDS_PER_DAY if refunded else None,
            "disputed": False, "dispute_ts": None,
        })  # fmt: skip
    return pl.DataFrame(orders, schema=PURCHASE_SCHEMA), pl.DataFrame(lines, schema=LINE_SCHEMA)


def resolve(purchases: pl.DataFrame, people: pl.DataFrame) -> dict[str, dict]:
    """PLANTED plus this run's facts: each planted person's purchases with dates and source ids."""
    tagged = purchases.join(people.select("person_id", "planted"), on="person_id").filter(
        pl.col("planted").is_not_null()
    )
    resolved = {tag: dict(spec) for tag, spec in PLANTED.items()}
    for tag in ("champion", "two_spellings", "refund", "lost"):
        rows = tagged.filter(pl.col("planted") == tag).sort("ts")
        resolved[tag]["purchases"] = _purchase_facts(rows)
    resolved["guests"]["purchases"] = _purchase_facts(
        tagged.filter(pl.col("planted").str.starts_with("guest")).sort("ts")
    )
    return resolved


def _purchase_facts(rows: pl.DataFrame) -> list[dict]:
    """What a test can look up in the files: source, source id, UTC date, money (minor units)."""
    epoch = date(1970, 1, 1)
    return [
        {
            "source": r["channel"],
            "source_id": r["source_ref"],
            "date": (epoch + timedelta(seconds=r["ts"])).isoformat(),
            "currency": r["currency"],
            "total_minor": r["total_minor"],
            "refunded_minor": r["refunded_minor"],
        }
        for r in rows.iter_rows(named=True)
    ]
