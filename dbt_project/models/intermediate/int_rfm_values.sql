{#-
    One row per customer with a purchase in the RFM lookback window (seed rfm_settings,
    default 730 days) per as-of date of the run: the raw recency, frequency and monetary values
    that rfm_scores scores. Recency = days since the last purchase; frequency = orders and
    monetary = net revenue (reporting currency), both counting only purchases in the window
    (0..lookback days before the as-of date). Read from int_customer_purchase_history, which
    holds the lookback-window totals of every as-of date of the run.
-#}
{{ config(materialized='as_of_table') }}
with

purchase_history as (
    select * from {{ ref('int_customer_purchase_history') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

population as (
    select
        purchase_history.*,
        {{ days_between('purchase_history.last_order_date', 'purchase_history.as_of_date') }} as days_since_last_order,
        settings.rfm_lookback_days
    from purchase_history
    cross join settings
    where purchase_history.orders_to_date > 0
),

final as (
    select
        customer_key,
        as_of_date,
        days_since_last_order as recency_days,
        orders_in_rfm_lookback as frequency,
        net_revenue_in_rfm_lookback as monetary,
        rfm_lookback_days as lookback_days
    from population
    where days_since_last_order <= rfm_lookback_days
)

select * from final
