"""The whole sample world before any file format: people, purchases, line items.

Grain: `World.people` one row per person; `World.purchases` one row per purchase, sorted by
time, with `purchase_id` (0..n-1 in time order) and `source_ref`, the id the source system
gives it (Shopify `#1001`, Stripe `ch_...`, PayPal transaction id, till receipt number);
`World.lines` one row per line item of a purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipelines.generate import planted, pricing, purchases
from pipelines.generate.population import build_persons
from pipelines.generate.text import UPPER36, random_tokens, rng_for

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class World:
    people: pl.DataFrame
    purchases: pl.DataFrame
    lines: pl.DataFrame
    start_date: date
    end_date: date
    seed: int

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def start_epoch(self) -> int:
        """Midnight UTC at the start of the window (inclusive)."""
        return (self.start_date - EPOCH).days * purchases.SECONDS_PER_DAY

    @property
    def end_epoch(self) -> int:
        """Midnight UTC after end_date (exclusive): nothing in the sample happens at or after it."""
        return self.start_epoch + self.days * purchases.SECONDS_PER_DAY

    def planted_mask(self, person_ids: pl.Series) -> np.ndarray:
        """True where a row belongs to a planted person: such rows are never broken on purpose."""
        planted = self.people.filter(pl.col("planted").is_not_null())["person_id"]
        return person_ids.is_in(planted.implode()).to_numpy()


def _source_refs(rng: np.random.Generator, ordered: pl.DataFrame) -> pl.Series:
    """The id each source system shows for a purchase, numbered in time order per source."""
    channel = pl.col("channel")
    seq = pl.int_range(pl.len()).over("channel")
    refs = ordered.select(
        pl.when(channel == "shopify")
        .then(pl.lit("#") + (seq + 1001).cast(pl.String))
        .when(channel == "pos")
        .then(pl.lit("R01-") + (seq + 1).cast(pl.String).str.zfill(7))
        .alias("source_ref")
    ).to_series()
    random_ids = {
        "stripe": lambda k: "ch_3" + random_tokens(rng, k, 23),
        "paypal": lambda k: random_tokens(rng, k, 17, UPPER36),
    }
    for name, make in random_ids.items():
        rows = (ordered["channel"] == name).arg_true()
        if rows.len():
            refs = refs.scatter(rows, make(rows.len()))
    return refs


def build_world(seed: int, customers: int, start_date: date, end_date: date) -> World:
    """Simulate everyone and everything they bought in [start_date, end_date]."""
    days = (end_date - start_date).days + 1
    start_epoch = (start_date - EPOCH).days * purchases.SECONDS_PER_DAY
    end_epoch = start_epoch + days * purchases.SECONDS_PER_DAY
    people = build_persons(rng_for(seed, "people"), customers, days)
    bought = purchases.simulate(rng_for(seed, "timing"), people, days, start_epoch)
    orders, lines = pricing.price(rng_for(seed, "prices"), bought, people, end_epoch)

    known = planted.planted_people(people.height, people)
    known_orders, known_lines = planted.planted_purchases(known, days, end_date, orders.height)
    orders = pl.concat([orders, known_orders]).sort("ts", "purchase_key")
    orders = orders.with_columns(purchase_id=pl.int_range(pl.len(), dtype=pl.Int64))
    orders = orders.with_columns(_source_refs(rng_for(seed, "source_refs"), orders))
    # The planted refund charge keeps its published id.
    refund_person = known.filter(pl.col("planted") == "refund")["person_id"][0]
    orders = orders.with_columns(
        source_ref=pl.when(pl.col("person_id") == refund_person)
        .then(pl.lit(planted.PLANTED["refund"]["charge_id"]))
        .otherwise(pl.col("source_ref"))
    )
    lines = (
        pl.concat([lines, known_lines])
        .join(orders.select("purchase_key", "purchase_id"), on="purchase_key")
        .sort("purchase_id", "line_no")
        .drop("purchase_key")
    )
    people = pl.concat([people, known])
    # Sources look people up by position (sources.common.attach): the id must be the row number.
    assert (people["person_id"] == pl.int_range(people.height, eager=True)).all()
    return World(
        people=people,
        purchases=orders.drop("purchase_key"),
        lines=lines,
        start_date=start_date,
        end_date=end_date,
        seed=seed,
    )


def mean_purchases_per_customer(days: int) -> float:
    """Purchases per requested customer over `days`, measured on a fixed 20,000-person pilot."""
    pilot = 20_000
    people = build_persons(rng_for(0, "pilot-people"), pilot, days)
    bought = purchases.simulate(rng_for(0, "pilot-timing"), people, days, 0)
    return bought.height / pilot
