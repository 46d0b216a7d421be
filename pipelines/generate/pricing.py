"""What each purchase is worth: line items, discounts, shipping, tax, refunds and disputes.

All money is integer minor units of the buyer's currency (yen for JPY). `Total = Subtotal +
Shipping (+ tax where it is added on top, US)`; `Subtotal` is the lines minus the discount;
in VAT countries `taxes_minor` is the VAT included in the subtotal.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import spec
from pipelines.generate.catalog import category_ranges, price_matrix
from pipelines.generate.purchases import LINE_SCHEMA, PURCHASE_SCHEMA, SECONDS_PER_DAY


def _lines(rng: np.random.Generator, orders: pl.DataFrame) -> pl.DataFrame:
    """Line items: 1-6 per order, mostly from the buyer's preferred category and price level."""
    n = orders.height
    n_lines = 1 + np.minimum(rng.poisson(0.45, n), 5)
    order = np.repeat(np.arange(n), n_lines)
    line_no = np.arange(order.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    preferred = orders["preferred_category"].to_numpy()[order]
    category = np.where(
        rng.random(order.size) < 0.55, preferred, rng.integers(0, len(spec.CATEGORIES), order.size)
    )
    first_id, size = category_ranges()
    level = orders["price_level"].to_numpy()[order] + rng.normal(0.0, 0.22, order.size)
    product = first_id[category] + np.clip(
        np.floor(level * size[category]), 0, size[category] - 1
    ).astype(np.int64)
    currency_index = (
        orders["currency"]
        .replace_strict(list(spec.CURRENCIES), list(range(len(spec.CURRENCIES))))
        .to_numpy()
    )
    return pl.DataFrame(
        {
            "purchase_key": orders["purchase_key"].to_numpy()[order],
            "line_no": line_no.astype(np.int32),
            "product_id": product,
            "quantity": rng.choice([1, 2, 3], size=order.size, p=[0.82, 0.14, 0.04]).astype(
                np.int32
            ),
            "unit_minor": price_matrix()[product, currency_index[order]],
        }
    )


def _refunds(rng: np.random.Generator, orders: pl.DataFrame, end_epoch: int) -> pl.DataFrame:
    """Refunds, disputes and Shopify's voided/pending orders, each within the window."""
    n = orders.height
    propensity = orders["refund_propensity"].to_numpy()
    u = rng.random(n)
    refund_ts = (
        orders["ts"].to_numpy()
        + rng.integers(1, 30, n) * SECONDS_PER_DAY
        + rng.integers(0, SECONDS_PER_DAY, n)
    )
    # Masks and labels in polars: numpy strings cost 4 bytes a character a row (30M orders).
    channel = orders["channel"]
    shopify = (channel == "shopify").to_numpy()
    voided = shopify & (rng.random(n) < spec.VOIDED_SHARE)
    pending = (
        shopify
        & (orders["ts"].to_numpy() > end_epoch - 2 * SECONDS_PER_DAY)
        & (rng.random(n) < 0.3)
    )
    dispute_rate = np.where(
        orders["difficult"].to_numpy(), 12 * spec.DISPUTE_SHARE, spec.DISPUTE_SHARE
    )
    dispute_ts = orders["ts"].to_numpy() + rng.integers(5, 60, n) * SECONDS_PER_DAY
    disputed = (
        channel.is_in(["stripe", "paypal"]).to_numpy()
        & (rng.random(n) < dispute_rate)
        & (dispute_ts < end_epoch)
    )
    can_refund = ~voided & ~pending & ~disputed & (refund_ts < end_epoch)
    full = can_refund & (u < 0.6 * propensity)
    partial = can_refund & ~full & (u < propensity)
    total = orders["total_minor"].to_numpy()
    first_line = orders["first_line_minor"].to_numpy()
    # A till takes back whole items: a partial POS refund is the first line returned.
    some = np.maximum(1, np.round(total * rng.uniform(0.1, 0.6, n)))
    partial_amount = np.where((channel == "pos").to_numpy(), first_line, some)
    partial = partial & (partial_amount < total)
    refunded = np.where(full, total, np.where(partial, partial_amount, 0)).astype(np.int64)
    # The first condition that holds names the status.
    status = (
        pl.when(pl.Series(voided)).then(pl.lit("voided"))
        .when(pl.Series(pending)).then(pl.lit("pending"))
        .when(pl.Series(full)).then(pl.lit("refunded"))
        .when(pl.Series(partial)).then(pl.lit("partially_refunded"))
        .otherwise(pl.lit("paid"))
    )  # fmt: skip
    return orders.with_columns(
        status=status,
        refunded_minor=pl.Series(refunded),
        refund_ts=pl.when(pl.Series(refunded > 0)).then(pl.Series(refund_ts)),
        disputed=pl.Series(disputed),
        dispute_ts=pl.when(pl.Series(disputed)).then(pl.Series(dispute_ts)),
    )


def _discounts(rng: np.random.Generator, orders: pl.DataFrame) -> pl.DataFrame:
    """A discount code on a buyer-specific share of orders, as a share of the lines total.

    Only the web shop's checkout takes codes: PayPal does not show them, tills have none.
    """
    n = orders.height
    discounted = orders["channel"].is_in(["shopify", "stripe"]).to_numpy() & (
        rng.random(n) < orders["discount_propensity"].to_numpy()
    )
    code_index = rng.integers(0, len(spec.DISCOUNT_CODES), n)
    share = np.array([c[1] for c in spec.DISCOUNT_CODES])[code_index]
    codes = pl.Series([c[0] for c in spec.DISCOUNT_CODES]).gather(code_index)
    discount = np.where(discounted, np.round(orders["lines_minor"].to_numpy() * share), 0)
    return orders.with_columns(
        discount_code=pl.when(pl.Series(discounted)).then(codes),
        discount_minor=pl.Series(discount.astype(np.int64)),
    ).with_columns(subtotal_minor=pl.col("lines_minor") - pl.col("discount_minor"))


def _totals(orders: pl.DataFrame) -> pl.DataFrame:
    """Shipping (flat, free above a threshold, none at the till), tax and the order total."""
    countries = pl.DataFrame({
        "country": spec.COUNTRY_CODES,
        "tax_rate": [c.tax_rate for c in spec.COUNTRIES],
        "tax_included": [c.tax_included for c in spec.COUNTRIES],
    })  # fmt: skip
    currency, subtotal, rate = pl.col("currency"), pl.col("subtotal_minor"), pl.col("tax_rate")
    free = (pl.col("channel") == "pos") | (
        subtotal >= currency.replace_strict(spec.FREE_SHIPPING_FROM_MINOR)
    )
    return (
        orders.join(countries, on="country", how="left", maintain_order="left")
        .with_columns(
            shipping_minor=pl.when(free)
            .then(0)
            .otherwise(currency.replace_strict(spec.SHIPPING_MINOR))
            .cast(pl.Int64),
            # VAT is inside the price (shown, not added); US sales tax is added on top.
            taxes_minor=pl.when(pl.col("tax_included"))
            .then((subtotal * rate / (1 + rate)).round())
            .otherwise((subtotal * rate).round())
            .cast(pl.Int64),
        )
        .with_columns(
            total_minor=subtotal
            + pl.col("shipping_minor")
            + pl.when(pl.col("tax_included")).then(0).otherwise(pl.col("taxes_minor"))
        )
    )


def price(
    rng: np.random.Generator, purchases: pl.DataFrame, people: pl.DataFrame, end_epoch: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Line items, discounts, shipping, taxes, totals, refunds and disputes of each purchase."""
    attrs = people.select(
        "person_id", "currency", "country", "price_level", "preferred_category",
        "discount_propensity", "refund_propensity", "difficult",
    )  # fmt: skip
    orders = purchases.join(attrs, on="person_id", how="left", maintain_order="left")
    lines = _lines(rng, orders)
    line_total = pl.col("quantity") * pl.col("unit_minor")
    line_totals = lines.group_by("purchase_key", maintain_order=True).agg(
        lines_minor=line_total.sum(), first_line_minor=line_total.first()
    )
    orders = orders.join(line_totals, on="purchase_key", how="left", maintain_order="left")
    orders = _refunds(rng, _totals(_discounts(rng, orders)), end_epoch)
    return orders.select(PURCHASE_SCHEMA.keys()).cast(PURCHASE_SCHEMA), lines.cast(LINE_SCHEMA)
