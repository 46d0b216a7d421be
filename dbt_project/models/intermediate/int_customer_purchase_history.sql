{#-
    One row per customer (customer_id, see int_customer_purchase_days) per as-of segment with a
    transaction (int_as_of_segments): the segment's activity and the customer's running totals up
    to the segment's end. customer_facts reads the totals on each lookup date (the as-of date,
    and the day before each "last N days" window) with one ASOF JOIN, so any number of as-of
    dates costs one pass over the transactions, and a daily run keeps at most seven rows per
    customer however long the history.

    A reactivation is a purchase after a gap of at least lifecycle.reactivated_min_gap_days.
    The preferred channel and category are those with the most orders so far; ties go to the
    one that got there first, then alphabetically.
-#}
with

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
),

transactions as (
    select * from {{ ref('fct_transactions') }}
),

as_of_segments as (
    select * from {{ ref('int_as_of_segments') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

segment_bounds as (
    select
        max(calendar_date) as last_calendar_date,
        min(segment_end_date) as first_segment_end_date
    from as_of_segments
),

segmented as (
    select
        purchase_days.customer_id,
        coalesce(as_of_segments.segment_end_date, segment_bounds.first_segment_end_date) as segment_end_date,
        sum(purchase_days.orders) as orders,
        sum(purchase_days.gross_revenue) as gross_revenue,
        sum(purchase_days.refunded_amount) as refunded_amount,
        sum(purchase_days.net_revenue) as net_revenue,
        sum(purchase_days.discounted_orders) as discounted_orders,
        sum(purchase_days.disputed_orders) as disputed_orders,
        count(case when purchase_days.orders > 0 then 1 end) as purchase_days,
        min(case when purchase_days.orders > 0 then purchase_days.activity_date end) as first_purchase_date,
        max(case when purchase_days.orders > 0 then purchase_days.activity_date end) as last_purchase_date,
        max(
            case
                when purchase_days.days_since_previous_purchase >= settings.lifecycle_reactivated_min_gap_days
                then purchase_days.activity_date
            end
        ) as last_reactivation_date
    from purchase_days
    cross join segment_bounds
    cross join settings
    left join as_of_segments
        on purchase_days.activity_date = as_of_segments.calendar_date
    where purchase_days.activity_date <= segment_bounds.last_calendar_date
    group by 1, 2
),

{% for dimension in ['channel', 'product_category'] %}
{{ dimension }}_per_segment as (
    -- orders per value per segment, and the day the value reached its segment total
    select
        {{ identifier_id('transactions.customer_key') }} as customer_id,
        coalesce(as_of_segments.segment_end_date, segment_bounds.first_segment_end_date) as segment_end_date,
        transactions.{{ dimension }} as value,
        count(*) as orders,
        max(transactions.transaction_date) as reached_date
    from transactions
    cross join segment_bounds
    left join as_of_segments
        on transactions.transaction_date = as_of_segments.calendar_date
    where transactions.is_purchase
      and transactions.{{ dimension }} is not null
      and transactions.transaction_date <= segment_bounds.last_calendar_date
    group by 1, 2, 3
),

{{ dimension }}_leaders as (
    -- per segment, the value with the highest running count (ties: reached first, then
    -- alphabetical); a running first_by over segments then names the leader so far
    select
        customer_id,
        segment_end_date,
        {{ first_by('value', leader_rank('running_orders', 'reached_date', 'value')) }} as leader,
        min({{ leader_rank('running_orders', 'reached_date', 'value') }}) as leader_rank
    from (
        select
            *,
            sum(orders) over (
                partition by customer_id, value order by segment_end_date
                rows between unbounded preceding and current row
            ) as running_orders
        from {{ dimension }}_per_segment
    ) as running
    group by customer_id, segment_end_date
),
{% endfor %}

running as (
    select
        segmented.customer_id,
        segmented.segment_end_date,

        -- this segment
        segmented.orders,
        segmented.net_revenue,

        -- running totals up to the end of this segment
        cast(sum(segmented.orders) over to_date as bigint) as orders_to_date,
        sum(segmented.gross_revenue) over to_date as gross_revenue_to_date,
        sum(segmented.refunded_amount) over to_date as refunded_amount_to_date,
        sum(segmented.net_revenue) over to_date as net_revenue_to_date,
        cast(sum(segmented.discounted_orders) over to_date as bigint) as discounted_orders_to_date,
        cast(sum(segmented.disputed_orders) over to_date as bigint) as disputed_orders_to_date,
        cast(sum(segmented.purchase_days) over to_date as bigint) as purchase_days_to_date,
        min(segmented.first_purchase_date) over to_date as first_order_date,
        max(segmented.last_purchase_date) over to_date as last_order_date,
        max(segmented.last_reactivation_date) over to_date as last_reactivation_date,
        {{ first_by('channel_leaders.leader', 'channel_leaders.leader_rank') }} over to_date as preferred_channel,
        {{ first_by('product_category_leaders.leader', 'product_category_leaders.leader_rank') }} over to_date
            as preferred_category
    from segmented
    left join channel_leaders
        on segmented.customer_id = channel_leaders.customer_id
        and segmented.segment_end_date = channel_leaders.segment_end_date
    left join product_category_leaders
        on segmented.customer_id = product_category_leaders.customer_id
        and segmented.segment_end_date = product_category_leaders.segment_end_date
    window to_date as (
        partition by segmented.customer_id order by segmented.segment_end_date
        rows between unbounded preceding and current row
    )
),

final as (
    select * from running
)

select * from final
