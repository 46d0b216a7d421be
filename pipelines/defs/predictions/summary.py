"""What the models see of each customer, computed in DuckDB from the build database.

Origin: `intermediate.int_customer_purchase_days` (one row per customer per UTC day with a
transaction; a purchase day has `orders > 0`, money in the reporting currency). A customer's
purchases are counted in *days*, as the BG/NBD paper counts CDNOW's: several orders on one
day are one purchase, whose value is the day's net revenue (refunds booked that day
included). A refund-only day is not a purchase day.

Only aggregates per customer leave DuckDB (one row per customer with a purchase), never the
transactions.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from pipelines.defs.predictions.model import PredictionSettings

PURCHASE_DAYS = "intermediate.int_customer_purchase_days"
SETTINGS_TABLE = "intermediate.int_segment_settings"

_SUMMARY = f"""
with purchase_days as (
    select customer_key, activity_date, net_revenue
    from {PURCHASE_DAYS}
    where orders > 0 and activity_date <= $as_of
),
per_customer as (
    select
        customer_key,
        count(*) - 1 as frequency,
        min(activity_date) as first_purchase_date,
        max(activity_date) as last_purchase_date,
        sum(net_revenue) as net_revenue,
        arg_min(net_revenue, activity_date) as first_day_net_revenue
    from purchase_days
    group by customer_key
)
select
    customer_key,
    cast(frequency as double) as frequency,
    cast(date_diff('day', first_purchase_date, last_purchase_date) as double) as recency_days,
    cast(date_diff('day', first_purchase_date, $as_of) as double) as age_days,
    case when frequency > 0
        then cast((net_revenue - first_day_net_revenue) / frequency as double)
    end as monetary_value
from per_customer
order by customer_key
"""

# Calibration (up to calibration_end) and holdout (after it, up to as_of) of a sample of the
# customers whose first purchase is in the calibration period: the sample is the
# `max_customers` lowest hashes of customer_key, so it is the same from run to run.
_HOLDOUT = f"""
with purchase_days as (
    select customer_key, activity_date
    from {PURCHASE_DAYS}
    where orders > 0 and activity_date <= $as_of
),
per_customer as (
    select
        customer_key,
        count(*) filter (where activity_date <= $calibration_end) - 1 as frequency,
        min(activity_date) as first_purchase_date,
        max(activity_date) filter (where activity_date <= $calibration_end)
            as last_purchase_date,
        count(*) filter (where activity_date > $calibration_end) as holdout_purchases
    from purchase_days
    group by customer_key
    having min(activity_date) <= $calibration_end
    order by hash(customer_key), customer_key
    limit $max_customers
)
select
    customer_key,
    cast(frequency as double) as frequency,
    cast(date_diff('day', first_purchase_date, last_purchase_date) as double) as recency_days,
    cast(date_diff('day', first_purchase_date, $calibration_end) as double) as age_days,
    cast(null as double) as monetary_value,
    holdout_purchases
from per_customer
order by customer_key
"""


def latest_run_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The run's latest as-of date (meta.run_as_of_dates): the one date that gets predictions."""
    row = con.execute("select max(as_of_date) from meta.run_as_of_dates").fetchone()
    return row[0] if row else None


def customer_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """One row per customer with a purchase on or before `as_of` (see module docstring)."""
    return con.execute(_SUMMARY, {"as_of": as_of}).df()


def holdout_summary(
    con: duckdb.DuckDBPyConnection, calibration_end: date, as_of: date, max_customers: int
) -> pd.DataFrame:
    """Calibration summary as of `calibration_end` plus `holdout_purchases` (purchase days in
    (calibration_end, as_of]) for at most `max_customers` customers."""
    return con.execute(
        _HOLDOUT,
        {"calibration_end": calibration_end, "as_of": as_of, "max_customers": max_customers},
    ).df()


def read_settings(con: duckdb.DuckDBPyConnection) -> PredictionSettings:
    """The `clv` family of the segment settings seed, as pivoted by int_segment_settings."""
    row = con.execute(
        f"""
        select clv_holdout_days, clv_holdout_max_customers, clv_annual_discount_rate,
               clv_high_tier_share, clv_medium_tier_share
        from {SETTINGS_TABLE}
        """
    ).fetchone()
    return PredictionSettings(
        holdout_days=int(row[0]),
        holdout_max_customers=int(row[1]),
        annual_discount_rate=float(row[2]),
        high_tier_share=float(row[3]),
        medium_tier_share=float(row[4]),
    )
