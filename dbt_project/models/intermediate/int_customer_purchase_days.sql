{#-
    One row per customer per UTC day with a transaction, carrying the customer's running totals
    up to and including that day. customer_facts looks up the last row on or before an as-of
    date (and before date − N days for "last N days" windows), so any number of as-of dates
    costs one pass over the transactions instead of one pass per date.

    Orders are purchases (is_purchase); a refund-only receipt changes revenue, not orders.
    Gaps between orders are counted between distinct purchase days. The preferred channel and
    category are the ones with the most orders so far (ties: the one that got there first).
-#}
with

transactions as (
    -- the fact table, not int_transactions_unified: that model is ephemeral so that the
    -- 10M-row transaction table is written once
    select * from {{ ref('fct_transactions') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

daily as (
    select
        customer_key,
        transaction_date as activity_date,
        count(case when is_purchase then 1 end) as orders,
        sum(gross_amount) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_amount) as net_revenue,
        count(case when is_purchase and has_discount then 1 end) as discounted_orders,
        count(case when is_disputed then 1 end) as disputed_orders
    from transactions
    group by customer_key, transaction_date
),

{% for dimension in ['channel', 'product_category'] %}
{{ dimension }}_orders_per_day as (
    select
        customer_key,
        transaction_date as activity_date,
        {{ dimension }} as value,
        count(*) as orders
    from transactions
    where is_purchase and {{ dimension }} is not null
    group by customer_key, transaction_date, {{ dimension }}
),

{{ dimension }}_leader_candidates as (
    -- each value's running order count, as a key whose maximum is the current leader
    select
        customer_key,
        activity_date,
        max({{ leader_key(
            'running_orders', 'activity_date', 'value'
        ) }}) as leader_key
    from (
        select
            *,
            sum(orders) over (
                partition by customer_key, value order by activity_date
                rows between unbounded preceding and current row
            ) as running_orders
        from {{ dimension }}_orders_per_day
    ) as running
    group by customer_key, activity_date
),
{% endfor %}

purchase_gaps as (
    select
        daily.*,
        case when daily.orders > 0 then daily.activity_date end as purchase_date,
        max(case when daily.orders > 0 then daily.activity_date end) over (
            partition by daily.customer_key order by daily.activity_date
            rows between unbounded preceding and 1 preceding
        ) as previous_purchase_date
    from daily
),

days as (
    select
        purchase_gaps.*,
        case
            when purchase_gaps.purchase_date is not null
            then {{ days_between('purchase_gaps.previous_purchase_date', 'purchase_gaps.purchase_date') }}
        end as days_since_previous_purchase,
        channel_leader_candidates.leader_key as channel_leader_key,
        product_category_leader_candidates.leader_key as category_leader_key
    from purchase_gaps
    left join channel_leader_candidates
        on purchase_gaps.customer_key = channel_leader_candidates.customer_key
        and purchase_gaps.activity_date = channel_leader_candidates.activity_date
    left join product_category_leader_candidates
        on purchase_gaps.customer_key = product_category_leader_candidates.customer_key
        and purchase_gaps.activity_date = product_category_leader_candidates.activity_date
),

running as (
    select
        days.customer_key,
        days.activity_date,

        -- this day
        days.orders,
        days.net_revenue,

        -- running totals up to and including this day
        cast(sum(days.orders) over to_date as bigint) as orders_to_date,
        sum(days.gross_revenue) over to_date as gross_revenue_to_date,
        sum(days.refunded_amount) over to_date as refunded_amount_to_date,
        sum(days.net_revenue) over to_date as net_revenue_to_date,
        cast(sum(days.discounted_orders) over to_date as bigint) as discounted_orders_to_date,
        cast(sum(days.disputed_orders) over to_date as bigint) as disputed_orders_to_date,
        cast(count(days.purchase_date) over to_date as bigint) as purchase_days_to_date,
        min(days.purchase_date) over to_date as first_order_date,
        max(days.purchase_date) over to_date as last_order_date,
        {{ median('days.days_since_previous_purchase') }} over to_date as median_days_between_orders,
        max(
            case
                when days.days_since_previous_purchase >= settings.lifecycle_reactivated_min_gap_days
                then days.purchase_date
            end
        ) over to_date as last_reactivation_date,
        {{ leader_value('max(days.channel_leader_key) over to_date') }} as preferred_channel,
        {{ leader_value('max(days.category_leader_key) over to_date') }} as preferred_category
    from days
    cross join settings
    window to_date as (
        partition by days.customer_key order by days.activity_date
        rows between unbounded preceding and current row
    )
),

final as (
    select * from running
)

select * from final
