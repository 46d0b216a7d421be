{#-
    One row per customer per UTC day with a transaction: the day's orders and money and, on a
    purchase day, the days since the customer's previous purchase day. The daily grain shared by
    int_customer_purchase_history (as-of totals) and int_customer_purchase_gaps (median gap).

    customer_id = identifier_id(customer_key): a 64-bit integer that makes the window and group
    operations over 10M transactions cheap; it is internal to the build and never published.
    Orders are purchases (is_purchase); a refund-only receipt changes revenue, not orders.

    A daily run recomputes only the customers whose transactions changed (materialization
    touched_incremental): those int_transactions_unified logged since this model's last build,
    with their old and new keys (a merged customer's rows move to the key it merged into).
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=[],
    touched_key='customer_id',
    touched_keys='customer_purchase_days_touched_keys',
) }}
with

transactions as (
    -- the intermediate transaction table (fct_transactions is its published copy)
    select * from {{ ref('int_transactions_unified') }}
    where {{ touched_filter(identifier_id('customer_key')) }}
),

daily as (
    select
        {{ identifier_id('customer_key') }} as customer_id,
        transaction_date as activity_date,
        min(customer_key) as customer_key,
        cast(count(case when is_purchase then 1 end) as bigint) as orders,
        sum(gross_amount) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_amount) as net_revenue,
        cast(count(case when is_purchase and has_discount then 1 end) as bigint) as discounted_orders,
        -- orders whose source says whether a discount was used (has_discount not null)
        cast(count(case when is_purchase and has_discount is not null then 1 end) as bigint)
            as orders_with_discount_data,
        cast(count(case when is_disputed then 1 end) as bigint) as disputed_orders
    from transactions
    group by 1, 2
),

final as (
    select
        *,
        case
            when orders > 0 then {{ days_between(
                'max(case when orders > 0 then activity_date end) over earlier_days', 'activity_date'
            ) }}
        end as days_since_previous_purchase
    from daily
    window earlier_days as (
        partition by customer_id order by activity_date
        rows between unbounded preceding and 1 preceding
    )
)

select * from final
