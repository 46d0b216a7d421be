"""The pandas RFM script rewritten in polars (lazy API): same input, same rule, same output.

Input: one CSV of net transactions (customer_key, transaction_date, is_purchase, net_amount),
the product's `marts.fct_transactions` exported once before timing. Output: one row per
scored customer (customer_key, recency_days, frequency, monetary, r_score, f_score, m_score)
as Parquet.

Scores follow the product's rule (dbt_project/models/marts/segments/rfm_scores.sql):
population = customers whose last purchase is at most `lookback_days` before the as-of date;
frequency = purchases and monetary = net amount over that window; score = 1 + floor(5 *
(rank - 1) / customers) with `rank("min")`, so tied values share a score.

    python bench/peers/polars_rfm.py --transactions tx.csv --as-of 2026-10-31 \
        --lookback-days 730 --out scores.parquet
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import polars as pl


def quintile_score(column: str, descending: bool = False) -> pl.Expr:
    """1-5 by rank among all rows; ties share the lowest rank, hence the same score."""
    rank = pl.col(column).rank(method="min", descending=descending).cast(pl.Int64)
    # integer arithmetic: the exact floor of 5 * (rank - 1) / n, no float rounding at the edges
    return (1 + 5 * (rank - 1) // pl.len()).cast(pl.Int32)


def rfm_scores(tx: pl.LazyFrame, as_of: date, lookback_days: int) -> pl.LazyFrame:
    """One row per customer with a purchase in the lookback window, with R, F and M scores."""
    window_start = as_of - timedelta(days=lookback_days)
    tx = tx.filter(pl.col("transaction_date") <= as_of)
    recency = (
        tx.filter(pl.col("is_purchase"))
        .group_by("customer_key")
        .agg(last_purchase=pl.col("transaction_date").max())
        .select(
            "customer_key",
            recency_days=(pl.lit(as_of) - pl.col("last_purchase")).dt.total_days(),
        )
        .filter(pl.col("recency_days") <= lookback_days)
    )
    in_window = (
        tx.filter(pl.col("transaction_date") >= window_start)
        .group_by("customer_key")
        .agg(
            frequency=pl.col("is_purchase").sum().cast(pl.Int64),
            # float sums of cents drift in the last bit; round back to cents so equal totals tie
            monetary=pl.col("net_amount").sum().round(2),
        )
    )
    return (
        recency.join(in_window, on="customer_key", how="left")
        .with_columns(pl.col("frequency").fill_null(0), pl.col("monetary").fill_null(0.0))
        .with_columns(
            r_score=quintile_score("recency_days", descending=True),
            f_score=quintile_score("frequency"),
            m_score=quintile_score("monetary"),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", required=True, help="CSV of net transactions")
    parser.add_argument("--as-of", required=True, help="score as of this date (YYYY-MM-DD)")
    parser.add_argument("--lookback-days", type=int, default=730)
    parser.add_argument("--out", required=True, help="Parquet file for the scores")
    args = parser.parse_args()

    tx = pl.scan_csv(
        args.transactions,
        schema={
            "customer_key": pl.String,
            "transaction_date": pl.Date,
            "is_purchase": pl.Boolean,
            "net_amount": pl.Float64,
        },
    )
    scores = rfm_scores(tx, date.fromisoformat(args.as_of), args.lookback_days)
    scores.collect().write_parquet(args.out)


if __name__ == "__main__":
    main()
