"""When people buy: a buy-till-you-die simulation, plus the shape of a purchase.

Grain: `purchases` has one row per purchase (an order, a charge, a payment, a till receipt),
`lines` one row per line item of a purchase (schemas below). Both are source-neutral; the
source modules render them in each system's own format. `pricing` says what each is worth.

Timing is BG/NBD-like: a buyer's first purchase is at sign-up; after that, purchases follow a
Poisson process with the buyer's own rate (gamma across buyers), and after each purchase the
buyer drops out for good with the buyer's own probability (beta across buyers). Buyers who
signed up before the window contribute only their in-window purchases.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import spec

SECONDS_PER_DAY = 86_400
# Relative purchase activity by UTC hour: quiet nights, an evening peak.
_HOUR_WEIGHTS = np.array([
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.7, 1.2, 1.8, 2.2, 2.4, 2.5,
    2.7, 2.6, 2.5, 2.5, 2.6, 2.9, 3.3, 3.6, 3.5, 3.0, 2.2, 1.5,
])  # fmt: skip

PURCHASE_SCHEMA: dict[str, pl.DataType] = {
    "purchase_key": pl.Int64,
    "person_id": pl.Int64,
    "channel": pl.String,
    "ts": pl.Int64,
    "currency": pl.String,
    "discount_code": pl.String,
    "discount_minor": pl.Int64,
    "subtotal_minor": pl.Int64,
    "shipping_minor": pl.Int64,
    "taxes_minor": pl.Int64,
    "total_minor": pl.Int64,
    "status": pl.String,
    "refunded_minor": pl.Int64,
    "refund_ts": pl.Int64,
    "disputed": pl.Boolean,
    "dispute_ts": pl.Int64,
}
LINE_SCHEMA: dict[str, pl.DataType] = {
    "purchase_key": pl.Int64,
    "line_no": pl.Int32,
    "product_id": pl.Int64,
    "quantity": pl.Int32,
    "unit_minor": pl.Int64,
}


def seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """n times of day (seconds after midnight UTC) following the shop's hourly rhythm."""
    hours = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    return hours * 3600 + rng.integers(0, 3600, n)


def purchase_days(
    rng: np.random.Generator,
    rate: np.ndarray,
    dropout: np.ndarray,
    signup: np.ndarray,
    one_off: np.ndarray,
    days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchase times in (fractional) days since the window start, for every buyer at once.

    Returns (buyer index, day, is first purchase ever), only for purchases inside [0, days).
    """
    n = len(rate)
    purchases_until_dropout = np.where(one_off, 1, rng.geometric(np.clip(dropout, 1e-6, 1.0)))
    # A Poisson process over the remaining span rarely exceeds mean + 6 sd: cap the draws there
    # so a buyer with a tiny dropout probability does not cost millions of discarded rows.
    expected = rate * (days - signup)
    cap = np.ceil(expected + 6 * np.sqrt(expected) + 6).astype(np.int64)
    counts = 1 + np.minimum(purchases_until_dropout - 1, cap)
    owner = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    gaps = rng.exponential(1.0, owner.size) / rate[owner]
    gaps[starts] = 0.0
    elapsed = np.cumsum(gaps)
    day = signup[owner] + elapsed - elapsed[starts][owner]
    first = np.zeros(owner.size, dtype=bool)
    first[starts] = True
    keep = (day >= 0) & (day < days)
    return owner[keep], day[keep], first[keep]


def simulate(
    rng: np.random.Generator, people: pl.DataFrame, days: int, start_epoch: int
) -> pl.DataFrame:
    """One row per purchase of buyers and guests: purchase_key, person_id, channel, ts."""
    buyers = people.filter(pl.col("kind") != "prospect")
    owner, day, first = purchase_days(
        rng,
        buyers["purchase_rate"].to_numpy(),
        buyers["dropout"].to_numpy(),
        buyers["signup_day"].to_numpy(),
        (buyers["kind"] == "guest").to_numpy(),
        days,
    )
    ts = (
        start_epoch
        + np.floor(day).astype(np.int64) * SECONDS_PER_DAY
        + seconds_of_day(rng, owner.size)
    )
    # Channels gathered in polars: numpy strings cost 4 bytes a character a row.
    second = buyers["second_channel"].fill_null("").gather(owner)
    use_second = (
        (second != "").to_numpy()
        & ~first
        & (rng.random(owner.size) < spec.SECOND_CHANNEL_PURCHASE_SHARE)
    )
    channel = pl.select(
        pl.when(pl.Series(use_second)).then(second).otherwise(buyers["home_channel"].gather(owner))
    ).to_series()
    return pl.DataFrame(
        {
            "purchase_key": np.arange(owner.size, dtype=np.int64),
            "person_id": buyers["person_id"].to_numpy()[owner],
            "channel": channel,
            "ts": ts,
        }
    )
