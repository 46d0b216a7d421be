"""The usual pandas RFM script: read the transactions CSV, group by customer, score 1-5.

Input: one CSV of net transactions, one row per transaction (the product's
`marts.fct_transactions`, exported once by the benchmark before any timing):

    customer_key,transaction_date,is_purchase,net_amount
    4b432e69f14664a60595dbdde099cc78,2026-10-27,true,46.67

Output: one row per scored customer (customer_key, recency_days, frequency, monetary,
r_score, f_score, m_score) as Parquet.

It scores with the product's rule (dbt_project/models/marts/segments/rfm_scores.sql), so the
comparison is honest: the population is every customer whose last purchase is at most
`lookback_days` before the as-of date; frequency counts purchases and monetary sums net
amounts over the same window; score = 1 + floor(5 * (rank - 1) / customers) with tied values
sharing the lowest rank. The textbook `pd.qcut(x.rank(method="first"), 5)` would break ties
by row order instead, so the same customer could score differently on a re-run; the rank
below costs the same sort.

    python bench/peers/pandas_rfm.py --transactions tx.csv --as-of 2026-10-31 \
        --lookback-days 730 --out scores.parquet
"""

from __future__ import annotations

import argparse

import pandas as pd


def quintile_score(values: pd.Series, ascending: bool = True) -> pd.Series:
    """1-5 by rank among all values; ties share the lowest rank, hence the same score."""
    rank = values.rank(method="min", ascending=ascending).astype("int64")
    # integer arithmetic: the exact floor of 5 * (rank - 1) / n, no float rounding at the edges
    return (1 + 5 * (rank - 1) // len(values)).astype("int32")


def rfm_scores(tx: pd.DataFrame, as_of: pd.Timestamp, lookback_days: int) -> pd.DataFrame:
    """One row per customer with a purchase in the lookback window, with R, F and M scores."""
    tx = tx[tx["transaction_date"] <= as_of]
    window = tx[tx["transaction_date"] >= as_of - pd.Timedelta(days=lookback_days)]

    last_purchase = tx[tx["is_purchase"]].groupby("customer_key")["transaction_date"].max()
    recency = (as_of - last_purchase).dt.days.rename("recency_days")
    rfm = recency[recency <= lookback_days].to_frame()

    in_window = window.groupby("customer_key").agg(
        frequency=("is_purchase", "sum"), monetary=("net_amount", "sum")
    )
    rfm = rfm.join(in_window, how="left").fillna({"frequency": 0, "monetary": 0.0})
    rfm["frequency"] = rfm["frequency"].astype("int64")
    # float sums of cents drift in the last bit; round back to cents so equal totals tie
    rfm["monetary"] = rfm["monetary"].round(2)

    rfm["r_score"] = quintile_score(rfm["recency_days"], ascending=False)
    rfm["f_score"] = quintile_score(rfm["frequency"])
    rfm["m_score"] = quintile_score(rfm["monetary"])
    return rfm.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", required=True, help="CSV of net transactions")
    parser.add_argument("--as-of", required=True, help="score as of this date (YYYY-MM-DD)")
    parser.add_argument("--lookback-days", type=int, default=730)
    parser.add_argument("--out", required=True, help="Parquet file for the scores")
    args = parser.parse_args()

    tx = pd.read_csv(
        args.transactions,
        parse_dates=["transaction_date"],
        dtype={"customer_key": str, "is_purchase": bool, "net_amount": float},
    )
    scores = rfm_scores(tx, pd.Timestamp(args.as_of), args.lookback_days)
    scores.to_parquet(args.out, index=False)


if __name__ == "__main__":
    main()
