{#-
    One row per customer with a purchase (customer_id, see int_customer_purchase_days): the days
    between consecutive purchase days, in date order, as a list. int_customer_purchase_history
    takes the median of the first (purchase days to date − 1) gaps, i.e. the gaps up to the
    as-of date, so one list serves any number of as-of dates. A median cannot be summed like
    running totals, hence this separate, array-based model (macros/aggregates.sql).
-#}
with

purchase_days as (
    select * from {{ ref('int_customer_purchase_days') }}
),

final as (
    select
        customer_id,
        {{ ordered_list('days_since_previous_purchase', 'activity_date') }} as gaps_in_date_order
    from purchase_days
    where days_since_previous_purchase is not null
    group by customer_id
)

select * from final
