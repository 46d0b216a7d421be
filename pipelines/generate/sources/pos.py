"""A point-of-sale system read through the `generic` source: its CSV plus a mapping.yml.

Files: `generic/pos/mapping.yml` and `generic/pos/sales_<YYYY-MM>.csv` (or `_<YYYY-MM-DD>`),
by the sale's UTC date. One line per item on a till receipt; a receipt with several items
repeats its `receipt_no`. `;`-delimited, local Warsaw time as `DD.MM.YYYY HH:MM`, every amount
in PLN (the mapping fixes the currency). Buyers are known by their loyalty card and sometimes a
phone; a return is a line with negative `qty` and `total` on a new receipt.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.generate import writer
from pipelines.generate.catalog import catalog
from pipelines.generate.sources.common import attach, person_view
from pipelines.generate.text import local_time, money, rng_for
from pipelines.generate.world import World

SOURCE_NAME = "pos"
STORE_TIME_ZONE = "Europe/Warsaw"
TIMESTAMP_FORMAT = "%d.%m.%Y %H:%M"
COLUMNS = ("receipt_no", "sold_at", "loyalty_card", "phone", "department", "item", "qty", "total")
MAPPING_YML = f"""\
# The Warsaw store's till export, read by the generic source (see docs/generic_source.md).
delimiter: ";"
encoding: utf-8
timestamp_format: "{TIMESTAMP_FORMAT}"
timezone: {STORE_TIME_ZONE}
currency: PLN
columns:
  timestamp: sold_at
  amount: total
  customer_id: loyalty_card
  phone: phone
  order_id: receipt_no
  quantity: qty
  category: department
  product_name: item
"""


def _rows(world: World, bad_row_rate: float) -> pl.DataFrame:
    """Sold lines, then returned lines: all lines of a fully refunded receipt, the first line of
    a partially refunded one (purchases.price sets that refund to exactly the first line)."""
    receipts = world.purchases.filter(pl.col("channel") == "pos")
    sold = world.lines.join(receipts, on="purchase_id", how="inner", maintain_order="left")
    full = pl.col("refunded_minor") == pl.col("total_minor")
    returned = (
        sold.filter((pl.col("refunded_minor") > 0) & (full | (pl.col("line_no") == 1)))
        .with_columns(ts=pl.col("refund_ts"), quantity=-pl.col("quantity"))
        .sort("ts", "purchase_id", "line_no")
    )
    # A return gets its own receipt, numbered in a separate 'Z' (correction) series.
    return_number = pl.col("purchase_id").rank("dense").cast(pl.Int64).cast(pl.String)
    returned = returned.with_columns(source_ref=pl.lit("Z01-") + return_number.str.zfill(7))
    lines = pl.concat([sold, returned]).sort("ts", "source_ref", "line_no")
    rng = rng_for(world.seed, "pos")
    kinds = (writer.BAD_AMOUNT, writer.BAD_TIMESTAMP)
    return lines.with_columns(
        bad=writer.defects(
            rng, lines.height, bad_row_rate, kinds, world.planted_mask(lines["person_id"])
        )
    )


def _render(people: pl.DataFrame):
    products = catalog().select("product_id", "name", "category").lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        full = rows.join(products, on="product_id", how="left", maintain_order="left")
        full = full.with_columns(attach(people))
        values = {
            "receipt_no": pl.col("source_ref"),
            "sold_at": writer.broken(
                local_time(pl.col("ts"), STORE_TIME_ZONE, TIMESTAMP_FORMAT),
                writer.BAD_TIMESTAMP,
                writer.BAD_TIMESTAMPS,
            ),
            "loyalty_card": pl.col("loyalty_card"),
            "phone": pl.col("phone_written"),
            "department": pl.col("category"),
            "item": pl.col("name"),
            "qty": pl.col("quantity").cast(pl.String),
            "total": writer.broken(
                money(pl.col("quantity") * pl.col("unit_minor"), pl.lit("PLN")),
                writer.BAD_AMOUNT,
                writer.BAD_AMOUNTS,
            ),
        }
        return full.select(values[name].alias(name) for name in COLUMNS)

    return render


def _sink(frame: pl.DataFrame, path: Path) -> None:
    writer.write_csv(frame, path, separator=";")


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    people = person_view(world.people, SOURCE_NAME, phone_share=0.4)
    source_dir = f"generic/{SOURCE_NAME}"
    (landing_dir / source_dir).mkdir(parents=True, exist_ok=True)
    (landing_dir / source_dir / "mapping.yml").write_text(MAPPING_YML, encoding="utf-8")
    written = writer.write_partitioned(
        _rows(world, bad_row_rate),
        landing_dir=landing_dir,
        source_dir=source_dir,
        stem="sales",
        suffix=".csv",
        split=split,
        render=_render(people),
        sink=_sink,
    )
    written.files.insert(0, f"{source_dir}/mapping.yml")
    return written
