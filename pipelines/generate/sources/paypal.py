"""PayPal "Activity download" CSV (balance-affecting): one line per money movement.

Files: `paypal/activity_<YYYY-MM>.csv` (or `_<YYYY-MM-DD>`), by the movement's UTC date.
Every field is quoted, as PayPal writes it. `Date` is `DD/MM/YYYY`, `Time` `HH:MM:SS` and
`TimeZone` the account's zone abbreviation (`CET`/`CEST`, Europe/Berlin). Money has thousands
separators (`"1,234.56"`, JPY `"1,200"`). A refund (`Payment Refund`) or a chargeback
(`Chargeback`) is its own negative line whose `Reference Txn ID` is the payment's
`Transaction ID`; its `From Email Address` is the buyer's, like the payment's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writer
from pipelines.generate.catalog import catalog
from pipelines.generate.sources.common import attach, person_view
from pipelines.generate.text import UPPER36, local_time, money, random_tokens, rng_for
from pipelines.generate.world import World

ACCOUNT_TIME_ZONE = "Europe/Berlin"
MERCHANT_EMAIL = "payments@northwind-shop.example"
COLUMNS = (
    "Date", "Time", "TimeZone", "Name", "Type", "Status", "Currency", "Gross", "Fee", "Net",
    "From Email Address", "To Email Address", "Transaction ID", "Item Title", "Item ID",
    "Reference Txn ID", "Invoice Number", "Quantity", "Receipt ID", "Balance", "Country",
    "Contact Phone Number", "Country Code", "Balance Impact",
)  # fmt: skip


def _fee_minor(gross: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """PayPal's cut of a payment: 3.49% plus a fixed fee (0.49, or 40 yen), negative."""
    fixed = pl.when(currency == "JPY").then(40).otherwise(49)
    return -((gross * 0.0349).round().cast(pl.Int64) + fixed)


def _rows(world: World, bad_row_rate: float) -> pl.DataFrame:
    """Payments, then their refunds and chargebacks as separate negative movements."""
    rng = rng_for(world.seed, "paypal")
    items = world.lines.group_by("purchase_id", maintain_order=True).agg(
        product_id=pl.col("product_id").first(), quantity=pl.col("quantity").sum()
    )
    payments = (
        world.purchases.filter(pl.col("channel") == "paypal")
        .join(items, on="purchase_id", how="left", maintain_order="left")
        .with_columns(reference=pl.lit(None, dtype=pl.String))
    )
    payments = payments.with_columns(
        type=pl.Series(
            np.where(
                rng.random(payments.height) < 0.7, "Express Checkout Payment", "Website Payment"
            )
        ),
        gross_minor=pl.col("total_minor"),
    ).with_columns(fee_minor=_fee_minor(pl.col("gross_minor"), pl.col("currency")))
    refunds = payments.filter(pl.col("refunded_minor") > 0).with_columns(
        ts=pl.col("refund_ts"),
        type=pl.lit("Payment Refund"),
        gross_minor=-pl.col("refunded_minor"),
        fee_minor=pl.lit(0, dtype=pl.Int64),
        reference=pl.col("source_ref"),
    )
    chargebacks = payments.filter(pl.col("disputed")).with_columns(
        ts=pl.col("dispute_ts"),
        type=pl.lit("Chargeback"),
        gross_minor=-pl.col("total_minor"),
        fee_minor=pl.lit(0, dtype=pl.Int64),
        reference=pl.col("source_ref"),
    )
    reversals = pl.concat([refunds, chargebacks])
    reversals = reversals.with_columns(source_ref=random_tokens(rng, reversals.height, 17, UPPER36))
    movements = (
        pl.concat([payments, reversals])
        .sort("ts", "source_ref")
        .with_columns(net_minor=pl.col("gross_minor") + pl.col("fee_minor"))
        # The running balance per currency, as the account shows it after each movement.
        .with_columns(balance_minor=pl.col("net_minor").cum_sum().over("currency"))
    )
    planted = world.planted_mask(movements["person_id"])
    kinds = (writer.BAD_AMOUNT, writer.BAD_TIMESTAMP)
    return movements.with_columns(
        bad=writer.defects(rng, movements.height, bad_row_rate, kinds, planted)
    )


def _render(people: pl.DataFrame):
    products = catalog().select("product_id", "name", "sku").lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        full = rows.join(products, on="product_id", how="left", maintain_order="left")
        full = full.with_columns(attach(people))
        cur = pl.col("currency")
        is_payment = pl.col("reference").is_null()
        values = {
            "Date": writer.broken(
                local_time(pl.col("ts"), ACCOUNT_TIME_ZONE, "%d/%m/%Y"),
                writer.BAD_TIMESTAMP,
                writer.BAD_TIMESTAMPS,
            ),
            "Time": local_time(pl.col("ts"), ACCOUNT_TIME_ZONE, "%H:%M:%S"),
            "TimeZone": local_time(pl.col("ts"), ACCOUNT_TIME_ZONE, "%Z"),
            "Name": pl.col("full_name"),
            "Type": pl.col("type"),
            "Status": pl.lit("Completed"),
            "Currency": cur,
            "Gross": writer.broken(
                money(pl.col("gross_minor"), cur, thousands=True),
                writer.BAD_AMOUNT,
                writer.BAD_AMOUNTS,
            ),
            "Fee": money(pl.col("fee_minor"), cur, thousands=True),
            "Net": money(pl.col("net_minor"), cur, thousands=True),
            "From Email Address": pl.col("email_written"),
            "To Email Address": pl.lit(MERCHANT_EMAIL),
            "Transaction ID": pl.col("source_ref"),
            "Item Title": pl.when(is_payment).then(pl.col("name")),
            "Item ID": pl.when(is_payment).then(pl.col("sku")),
            "Reference Txn ID": pl.col("reference"),
            "Invoice Number": pl.when(is_payment).then(
                pl.lit("INV-") + pl.col("purchase_id").cast(pl.String)
            ),
            "Quantity": pl.when(is_payment)
            .then(pl.col("quantity").cast(pl.String))
            .otherwise(pl.lit("0")),
            "Receipt ID": pl.lit(""),
            "Balance": money(pl.col("balance_minor"), cur, thousands=True),
            "Country": pl.col("country_name"),
            "Contact Phone Number": pl.col("phone_written"),
            "Country Code": pl.col("country"),
            "Balance Impact": pl.when(pl.col("gross_minor") >= 0)
            .then(pl.lit("Credit"))
            .otherwise(pl.lit("Debit")),
        }
        return full.select(values[name].fill_null("").alias(name) for name in COLUMNS)

    return render


def _sink(frame: pl.DataFrame, path: Path) -> None:
    writer.write_csv(frame, path, quote_all=True)


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    people = person_view(world.people, "paypal", phone_share=0.3)
    return writer.write_partitioned(
        _rows(world, bad_row_rate),
        landing_dir=landing_dir,
        source_dir="paypal",
        stem="activity",
        suffix=".csv",
        split=split,
        render=_render(people),
        sink=_sink,
    )
