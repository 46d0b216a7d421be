{#-
    One row per customer with a purchase in the RFM lookback window (seed rfm_settings,
    default 730 days) per as-of date of the run: the raw recency, frequency and monetary values
    that rfm_scores scores. Recency = days since the last purchase; frequency = orders and
    monetary = net revenue (reporting currency), both counting only purchases in the window
    (0..lookback days before the as-of date).
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

purchase_history as (
    select * from {{ ref('int_customer_purchase_history') }}
),

as_of_lookups as (
    select * from {{ ref('int_as_of_lookups') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

population as (
    select
        facts.customer_key,
        {{ identifier_id('facts.customer_key') }} as customer_id,
        facts.as_of_date,
        facts.days_since_last_order,
        facts.orders_count,
        facts.net_revenue,
        settings.rfm_lookback_days,
        as_of_lookups.lookup_date as before_lookback_window
    from facts
    cross join settings
    inner join as_of_lookups
        on facts.as_of_date = as_of_lookups.as_of_date
        and as_of_lookups.lookup = 'before_rfm_lookback'
    where facts.orders_count > 0
      and facts.days_since_last_order <= settings.rfm_lookback_days
),

final as (
    select
        population.customer_key,
        population.as_of_date,
        population.days_since_last_order as recency_days,
        population.orders_count - coalesce(before_window.orders_to_date, 0) as frequency,
        population.net_revenue - coalesce(before_window.net_revenue_to_date, 0) as monetary,
        population.rfm_lookback_days as lookback_days
    from population
    asof left join purchase_history as before_window
        on population.customer_id = before_window.customer_id
        and population.before_lookback_window >= before_window.segment_end_date
)

select * from final
