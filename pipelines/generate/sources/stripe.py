"""Stripe Charge objects as JSON Lines, the way the API (and `stripe charges list`) returns them.

Files: `stripe/charges_<YYYY-MM>.jsonl` (or `_<YYYY-MM-DD>`), by the charge's UTC date.
`amount`/`amount_refunded` are minor units (cents; JPY is zero-decimal, so yen), `currency`
is lower case, `created` is unix seconds. Declined attempts are charges too (`status: failed`,
`paid: false`), most followed minutes later by a successful retry. Refunds show as
`amount_refunded` (+ `refunded: true` when full), disputes as `disputed: true`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import spec, writer
from pipelines.generate.catalog import catalog
from pipelines.generate.sources.common import attach, person_view
from pipelines.generate.text import jbool, jnum, jobject, jstr, random_tokens, rng_for
from pipelines.generate.world import World

_DECLINES = (
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
    ("incorrect_cvc", "Your card's security code is incorrect."),
)


def _failed_attempts(
    rng: np.random.Generator, charges: pl.DataFrame, planted: np.ndarray, start_epoch: int
) -> pl.DataFrame:
    """Declined attempts: a retry minutes before some payments, and some never retried."""
    n = charges.height
    retried = (rng.random(n) < spec.FAILED_CHARGE_SHARE) & ~planted
    abandoned = (rng.random(n) < spec.ABANDONED_FAILURE_SHARE) & ~planted
    before = np.where(retried, rng.integers(60, 900, n), rng.integers(3_600, 172_800, n))
    failed = (
        charges.filter(pl.Series(retried | abandoned))
        .with_columns(ts=pl.col("ts") - pl.Series(before[retried | abandoned]))
        .filter(pl.col("ts") >= start_epoch)
    )
    decline = rng.integers(0, len(_DECLINES), failed.height)
    return failed.with_columns(
        source_ref="ch_3" + random_tokens(rng, failed.height, 23),
        status=pl.lit("failed"),
        refunded_minor=pl.lit(0, dtype=pl.Int64),
        disputed=pl.lit(False),
        failure_code=pl.Series([d[0] for d in _DECLINES])[decline],
        failure_message=pl.Series([d[1] for d in _DECLINES])[decline],
    )


def _rows(world: World, bad_row_rate: float) -> pl.DataFrame:
    rng = rng_for(world.seed, "stripe")
    charges = world.purchases.filter(pl.col("channel") == "stripe").with_columns(
        status=pl.lit("succeeded"),
        failure_code=pl.lit(None, dtype=pl.String),
        failure_message=pl.lit(None, dtype=pl.String),
    )
    first_lines = world.lines.filter(pl.col("line_no") == 1).select("purchase_id", "product_id")
    charges = charges.join(first_lines, on="purchase_id", how="left", maintain_order="left")
    planted = world.planted_mask(charges["person_id"])
    failed = _failed_attempts(rng, charges, planted, world.start_epoch)
    charges = pl.concat([charges, failed]).sort("ts", "source_ref")
    planted = world.planted_mask(charges["person_id"])
    kinds = (writer.TRUNCATED, writer.BAD_AMOUNT, writer.BAD_TIMESTAMP)
    return charges.with_columns(
        bad=writer.defects(rng, charges.height, bad_row_rate, kinds, planted),
        gives_receipt_email=pl.Series(rng.random(charges.height) < 0.7),
        gives_billing_email=pl.Series(rng.random(charges.height) < 0.9),
    )


def _render(people: pl.DataFrame):
    products = catalog().select("product_id", "name", "category").lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        full = rows.join(products, on="product_id", how="left", maintain_order="left")
        full = full.with_columns(attach(people))
        guest = pl.col("kind") == "guest"
        succeeded = pl.col("status") == "succeeded"
        amount = jnum(pl.col("total_minor"))
        created = jnum(pl.col("ts"))
        metadata = pl.concat_str(
            [
                pl.lit('{"category":'),
                jstr(pl.col("category")),
                pl.lit(',"order_ref":'),
                jstr(pl.lit("web-") + pl.col("purchase_id").cast(pl.String)),
                pl.when(pl.col("discount_code").is_not_null())
                .then(pl.lit(',"discount_code":') + jstr(pl.col("discount_code")))
                .otherwise(pl.lit("")),
                pl.lit("}"),
            ]
        )
        line = jobject(
            {
                "id": jstr(pl.col("source_ref")),
                "object": jstr(pl.lit("charge")),
                "amount": pl.when(pl.col("bad") == writer.BAD_AMOUNT)
                .then(pl.lit('"12,3x"'))
                .otherwise(amount),
                "amount_captured": jnum(
                    pl.when(succeeded).then(pl.col("total_minor")).otherwise(0)
                ),
                "amount_refunded": jnum(pl.col("refunded_minor")),
                "billing_details": jobject(
                    {
                        "address": jobject(
                            {
                                "city": jstr(pl.col("city")),
                                "country": jstr(pl.col("country")),
                                "line1": pl.lit("null"),
                                "line2": pl.lit("null"),
                                "postal_code": pl.lit("null"),
                                "state": pl.lit("null"),
                            }
                        ),
                        "email": jstr(
                            pl.when(pl.col("gives_billing_email")).then(pl.col("email_written"))
                        ),
                        "name": jstr(pl.col("full_name")),
                        "phone": jstr(pl.col("phone_written")),
                    }
                ),
                "captured": jbool(succeeded),
                "created": pl.when(pl.col("bad") == writer.BAD_TIMESTAMP)
                .then(pl.lit('"yesterday"'))
                .otherwise(created),
                "currency": jstr(pl.col("currency").str.to_lowercase()),
                "customer": jstr(pl.when(guest).then(None).otherwise(pl.col("stripe_customer"))),
                "description": jstr(pl.col("name")),
                "disputed": jbool(pl.col("disputed")),
                "failure_code": jstr(pl.col("failure_code")),
                "failure_message": jstr(pl.col("failure_message")),
                "livemode": pl.lit("true"),
                "metadata": metadata,
                "paid": jbool(succeeded),
                "receipt_email": jstr(
                    pl.when(pl.col("gives_receipt_email")).then(pl.col("email_written"))
                ),
                "refunded": jbool(succeeded & (pl.col("refunded_minor") == pl.col("total_minor"))),
                "status": jstr(pl.col("status")),
            }
        )
        # Two steps: `truncated` reads the line three times; build it once.
        return full.select(pl.col("bad"), line=line).select(line=writer.truncated(pl.col("line")))

    return render


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    people = person_view(world.people, "stripe", phone_share=0.4)
    return writer.write_partitioned(
        _rows(world, bad_row_rate),
        landing_dir=landing_dir,
        source_dir="stripe",
        stem="charges",
        suffix=".jsonl",
        split=split,
        render=_render(people),
        sink=writer.write_lines,
    )
