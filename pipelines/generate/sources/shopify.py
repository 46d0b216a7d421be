"""Shopify "Orders export" CSV: one line per line item, order-level columns on the first line.

Files: `shopify/orders_export_<YYYY-MM>.csv` (or `_<YYYY-MM-DD>`), by the order's UTC date.
Timestamps are in the shop's time zone with an offset (`2024-03-05 14:02:11 +0100`); money is
major units with a dot ('1234.50'; JPY whole yen). `Total = Subtotal + Shipping (+ Taxes
where tax is added on top, US)`; in VAT countries `Taxes` is the VAT included in `Subtotal`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writer
from pipelines.generate.catalog import catalog
from pipelines.generate.sources.common import attach, person_view
from pipelines.generate.text import local_time, money, rng_for
from pipelines.generate.world import World

SHOP_TIME_ZONE = "Europe/Berlin"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S %z"
COLUMNS = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
    "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
    "Lineitem sku", "Billing Name", "Billing City", "Billing Country", "Billing Phone",
    "Refunded Amount", "Vendor", "Id", "Tags", "Source",
)  # fmt: skip
ORDER_LEVEL = {
    "Email", "Financial Status", "Paid at", "Fulfillment Status", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
    "Shipping Method", "Created at", "Billing Name", "Billing City", "Billing Country",
    "Billing Phone", "Refunded Amount", "Id", "Tags", "Source",
}  # fmt: skip
_ORDER_SOURCES = np.array(
    ["web", "web", "web", "web", "web", "web", "iphone", "android", "shopify_draft_order"]
)


def _rows(world: World, bad_row_rate: float) -> pl.DataFrame:
    """One row per line item of each Shopify order, with the order's defects on its first line."""
    rng = rng_for(world.seed, "shopify")
    orders = world.purchases.filter(pl.col("channel") == "shopify")
    kinds = (writer.BAD_AMOUNT, writer.BAD_TIMESTAMP)
    orders = orders.with_columns(
        paid_delay=pl.Series(rng.integers(0, 180, orders.height)),
        order_source=pl.Series(_ORDER_SOURCES[rng.integers(0, len(_ORDER_SOURCES), orders.height)]),
        bad=writer.defects(
            rng, orders.height, bad_row_rate, kinds, world.planted_mask(orders["person_id"])
        ),
    )
    first_line = pl.col("line_no") == 1
    return world.lines.join(
        orders, on="purchase_id", how="inner", maintain_order="left"
    ).with_columns(bad=pl.when(first_line).then(pl.col("bad")).otherwise(0).cast(pl.Int8))


def _render(people: pl.DataFrame, end_epoch: int):
    products = catalog().select("product_id", "sku", "name", "vendor", "category").lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        tags = (
            rows.join(products, on="product_id", how="left")
            .group_by("purchase_id", maintain_order=True)
            .agg(tags=pl.col("category").unique().sort().str.join(", "))
        )
        full = (
            rows.join(products, on="product_id", how="left", maintain_order="left")
            .with_columns(attach(people))
            .join(tags, on="purchase_id", how="left", maintain_order="left")
        )
        cur = pl.col("currency")
        paid = pl.col("status").is_in(["paid", "refunded", "partially_refunded"])
        created = local_time(pl.col("ts"), SHOP_TIME_ZONE, TIMESTAMP_FORMAT)
        seq = pl.col("source_ref").str.slice(1).cast(pl.Int64) - 1001
        values = {
            "Name": pl.col("source_ref"),
            "Email": pl.col("email_written"),
            "Financial Status": pl.col("status"),
            "Paid at": pl.when(paid).then(
                local_time(pl.col("ts") + pl.col("paid_delay"), SHOP_TIME_ZONE, TIMESTAMP_FORMAT)
            ),
            "Fulfillment Status": pl.when(paid & (pl.col("ts") < end_epoch - 3 * 86_400))
            .then(pl.lit("fulfilled"))
            .otherwise(pl.lit("unfulfilled")),
            "Accepts Marketing": pl.when(pl.col("consent"))
            .then(pl.lit("yes"))
            .otherwise(pl.lit("no")),
            "Currency": cur,
            "Subtotal": money(pl.col("subtotal_minor"), cur),
            "Shipping": money(pl.col("shipping_minor"), cur),
            "Taxes": money(pl.col("taxes_minor"), cur),
            "Total": writer.broken(
                money(pl.col("total_minor"), cur), writer.BAD_AMOUNT, writer.BAD_AMOUNTS
            ),
            "Discount Code": pl.col("discount_code"),
            "Discount Amount": money(pl.col("discount_minor"), cur),
            "Shipping Method": pl.when(pl.col("shipping_minor") == 0)
            .then(pl.lit("Free Shipping"))
            .otherwise(pl.lit("Standard Shipping")),
            "Created at": writer.broken(created, writer.BAD_TIMESTAMP, writer.BAD_TIMESTAMPS),
            "Lineitem quantity": pl.col("quantity").cast(pl.String),
            "Lineitem name": pl.col("name"),
            "Lineitem price": money(pl.col("unit_minor"), cur),
            "Lineitem sku": pl.col("sku"),
            "Billing Name": pl.col("full_name"),
            "Billing City": pl.col("city"),
            "Billing Country": pl.col("country"),
            "Billing Phone": pl.col("phone_written"),
            "Refunded Amount": money(pl.col("refunded_minor"), cur),
            "Vendor": pl.col("vendor"),
            "Id": (5_512_000_000_000 + seq * 37 + 11).cast(pl.String),
            "Tags": pl.col("tags"),
            "Source": pl.col("order_source"),
        }
        # Shopify writes the order-level columns on an order's first line only.
        first_line = pl.col("line_no") == 1
        values |= {name: pl.when(first_line).then(values[name]) for name in ORDER_LEVEL}
        return full.select(values[name].alias(name) for name in COLUMNS)

    return render


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    people = person_view(world.people, "shopify", phone_share=0.6)
    return writer.write_partitioned(
        _rows(world, bad_row_rate),
        landing_dir=landing_dir,
        source_dir="shopify",
        stem="orders_export",
        suffix=".csv",
        split=split,
        render=_render(people, world.end_epoch),
        sink=writer.write_csv,
    )
