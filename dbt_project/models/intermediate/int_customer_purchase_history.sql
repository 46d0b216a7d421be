{#-
    One row per customer (customer_id, see int_customer_purchase_days) per as-of date of the run
    (meta.run_as_of_dates) on or after the customer's first transaction: what the customer had
    bought as of that date, from transactions on or before it only.

    Set-based (macros/as_of.sql): lifetime totals are running sums over the customer's as-of
    buckets (each activity day counted once, in the bucket of the first as-of date on or after
    it); "last N days" totals (0..N days before the as-of date) are one range join of the
    customer's activity days to the as-of dates whose widest window (365 days or the RFM
    lookback, whichever is longer) holds them, with one filtered aggregate per window.

    A reactivation is a purchase after a gap of at least lifecycle.reactivated_min_gap_days.
    The preferred channel and category are those with the most orders so far; ties go to the
    one that got there first, then alphabetically. The median gap between purchase days so far
    is the median of the first (purchase days to date - 1) gaps of int_customer_purchase_gaps,
    computed once per bucket, not per as-of date.
-#}
{#- the large tables are read where needed, not through CTEs that DuckDB might materialise;
    in batches of customers (macros/as_of_batches.sql), each reads its customers' rows -#}
{{ config(materialized='as_of_table', as_of_batch_by='customer') }}
{%- set purchase_days -%}
    (select * from {{ ref('int_customer_purchase_days') }} where {{ customer_batch_filter('customer_id') }})
{%- endset %}
{%- set transactions -%}
    (select * from {{ ref('int_transactions_unified') }}
     where {{ customer_batch_filter(identifier_id('customer_key')) }})
{%- endset %}
with

purchase_gaps as (
    select * from {{ ref('int_customer_purchase_gaps') }}
    where {{ customer_batch_filter('customer_id') }}
),

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_table)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

window_length as (
    select
        case when rfm_lookback_days > 365 then rfm_lookback_days else 365 end as max_days,
        rfm_lookback_days,
        lifecycle_reactivated_min_gap_days
    from settings
),

bucket_days as (
    {{ as_of_bucket_days(ref('int_customer_purchase_days'), 'activity_date') }}
),

window_days as (
    {{ as_of_window_days(ref('int_customer_purchase_days'), 'activity_date', 'window_length.max_days', cross_join='window_length') }}
),

bucketed as (
    -- each activity day once, in its as-of bucket
    select
        purchase_days.customer_id,
        bucket_days.bucket_date,
        min(purchase_days.customer_key) as customer_key,
        sum(purchase_days.orders) as orders,
        sum(purchase_days.gross_revenue) as gross_revenue,
        sum(purchase_days.refunded_amount) as refunded_amount,
        sum(purchase_days.net_revenue) as net_revenue,
        sum(purchase_days.discounted_orders) as discounted_orders,
        sum(purchase_days.orders_with_discount_data) as orders_with_discount_data,
        sum(purchase_days.disputed_orders) as disputed_orders,
        count(case when purchase_days.orders > 0 then 1 end) as purchase_days,
        min(case when purchase_days.orders > 0 then purchase_days.activity_date end) as first_purchase_date,
        max(case when purchase_days.orders > 0 then purchase_days.activity_date end) as last_purchase_date,
        max(
            case
                when purchase_days.days_since_previous_purchase >= window_length.lifecycle_reactivated_min_gap_days
                then purchase_days.activity_date
            end
        ) as last_reactivation_date
    from {{ purchase_days }} as purchase_days
    cross join window_length
    inner join bucket_days
        on purchase_days.activity_date = bucket_days.activity_date
    group by 1, 2
),

{% for dimension in ['channel', 'product_category'] %}
{{ dimension }}_per_bucket as (
    -- orders per value per bucket, and the day the value reached its bucket total
    select
        {{ identifier_id('transactions.customer_key') }} as customer_id,
        bucket_days.bucket_date,
        transactions.{{ dimension }} as value,
        count(*) as orders,
        max(transactions.transaction_date) as reached_date
    from {{ transactions }} as transactions
    inner join bucket_days
        on transactions.transaction_date = bucket_days.activity_date
    where transactions.is_purchase
      and transactions.{{ dimension }} is not null
    group by 1, 2, 3
),

{{ dimension }}_leaders as (
    -- per bucket, the value with the highest running count (ties: reached first, then
    -- alphabetical). A value's rank only improves as its count grows, so the running minimum
    -- of the bucket leaders' ranks names the leader so far.
    select
        customer_id,
        bucket_date,
        {{ first_by('value', leader_rank('running_orders', 'reached_date', 'value')) }} as leader,
        min({{ leader_rank('running_orders', 'reached_date', 'value') }}) as leader_rank
    from (
        select
            *,
            sum(orders) over (
                partition by customer_id, value order by bucket_date
                rows between unbounded preceding and current row
            ) as running_orders
        from {{ dimension }}_per_bucket
    ) as running
    group by customer_id, bucket_date
),
{% endfor %}

running as (
    -- running totals over the customer's buckets with activity (each bucket once)
    select
        bucketed.customer_id,
        bucketed.customer_key,
        bucketed.bucket_date,
        {{ next_bucket_date('bucketed.customer_id', 'bucketed.bucket_date') }} as next_bucket_date,
        cast(sum(bucketed.orders) over to_date as bigint) as orders_to_date,
        sum(bucketed.gross_revenue) over to_date as gross_revenue_to_date,
        sum(bucketed.refunded_amount) over to_date as refunded_amount_to_date,
        sum(bucketed.net_revenue) over to_date as net_revenue_to_date,
        cast(sum(bucketed.discounted_orders) over to_date as bigint) as discounted_orders_to_date,
        cast(sum(bucketed.orders_with_discount_data) over to_date as bigint)
            as orders_with_discount_data_to_date,
        cast(sum(bucketed.disputed_orders) over to_date as bigint) as disputed_orders_to_date,
        cast(sum(bucketed.purchase_days) over to_date as bigint) as purchase_days_to_date,
        min(bucketed.first_purchase_date) over to_date as first_order_date,
        max(bucketed.last_purchase_date) over to_date as last_order_date,
        max(bucketed.last_reactivation_date) over to_date as last_reactivation_date,
        {{ first_by('channel_leaders.leader', 'channel_leaders.leader_rank') }} over to_date as preferred_channel,
        {{ first_by('product_category_leaders.leader', 'product_category_leaders.leader_rank') }} over to_date
            as preferred_category
    from bucketed
    left join channel_leaders
        on bucketed.customer_id = channel_leaders.customer_id
        and bucketed.bucket_date = channel_leaders.bucket_date
    left join product_category_leaders
        on bucketed.customer_id = product_category_leaders.customer_id
        and bucketed.bucket_date = product_category_leaders.bucket_date
    window to_date as (
        partition by bucketed.customer_id order by bucketed.bucket_date
        rows between unbounded preceding and current row
    )
),

running_with_gaps as (
    -- the median gap between purchase days so far: of the first (purchase days - 1) gaps
    select
        running.*,
        cast(
            {{ median_of_first(
                'purchase_gaps.gaps_in_date_order',
                'greatest(running.purchase_days_to_date - 1, 0)'
            ) }}
            as decimal(9, 1)
        ) as median_days_between_orders
    from running
    left join purchase_gaps
        on running.customer_id = purchase_gaps.customer_id
),

span_dates as (
    {{ as_of_span_dates('running') }}
),

lifetime as (
    -- carried to every as-of date of the run from the customer's first bucket on
    select
        running.customer_id,
        running.customer_key,
        span_dates.as_of_date,
        running.orders_to_date,
        running.gross_revenue_to_date,
        running.refunded_amount_to_date,
        running.net_revenue_to_date,
        running.discounted_orders_to_date,
        running.orders_with_discount_data_to_date,
        running.disputed_orders_to_date,
        running.purchase_days_to_date,
        running.first_order_date,
        running.last_order_date,
        running.last_reactivation_date,
        running.preferred_channel,
        running.preferred_category,
        running.median_days_between_orders
    from running_with_gaps as running
    inner join span_dates
        on running.bucket_date = span_dates.bucket_date
        and running.next_bucket_date = span_dates.next_bucket_date
),

windows as (
    -- "last N days" = 0..N days before the as-of date
    select
        purchase_days.customer_id,
        window_days.as_of_date,
        cast(sum(purchase_days.orders) filter (where window_days.days_ago <= 30) as bigint) as purchases_last_30_days,
        cast(sum(purchase_days.orders) filter (where window_days.days_ago <= 180) as bigint) as purchases_last_180_days,
        cast(sum(purchase_days.orders) filter (where window_days.days_ago <= 365) as bigint) as purchases_last_365_days,
        sum(purchase_days.gross_revenue) filter (where window_days.days_ago <= 365) as gross_revenue_last_365_days,
        sum(purchase_days.refunded_amount) filter (where window_days.days_ago <= 365) as refunded_amount_last_365_days,
        sum(purchase_days.net_revenue) filter (where window_days.days_ago <= 365) as net_revenue_last_365_days,
        cast(sum(purchase_days.disputed_orders) filter (where window_days.days_ago <= 365) as bigint)
            as disputes_last_365_days,
        cast(sum(purchase_days.orders) filter (where window_days.days_ago <= window_length.rfm_lookback_days) as bigint)
            as orders_in_rfm_lookback,
        sum(purchase_days.net_revenue) filter (where window_days.days_ago <= window_length.rfm_lookback_days)
            as net_revenue_in_rfm_lookback
    from {{ purchase_days }} as purchase_days
    cross join window_length
    inner join window_days
        on purchase_days.activity_date = window_days.activity_date
    group by 1, 2
),

final as (
    select
        lifetime.*,
        coalesce(windows.purchases_last_30_days, 0) as purchases_last_30_days,
        coalesce(windows.purchases_last_180_days, 0) as purchases_last_180_days,
        coalesce(windows.purchases_last_365_days, 0) as purchases_last_365_days,
        coalesce(windows.gross_revenue_last_365_days, 0) as gross_revenue_last_365_days,
        coalesce(windows.refunded_amount_last_365_days, 0) as refunded_amount_last_365_days,
        coalesce(windows.net_revenue_last_365_days, 0) as net_revenue_last_365_days,
        coalesce(windows.disputes_last_365_days, 0) as disputes_last_365_days,
        coalesce(windows.orders_in_rfm_lookback, 0) as orders_in_rfm_lookback,
        coalesce(windows.net_revenue_in_rfm_lookback, 0) as net_revenue_in_rfm_lookback
    from lifetime
    left join windows
        on lifetime.customer_id = windows.customer_id
        and lifetime.as_of_date = windows.as_of_date
)

select * from final
