{#-
    One row per customer (customer_id = identifier_id(customer_key)) per as-of date of the run
    on or after the customer's first support ticket: tickets and complaints to date and in the
    last 365 days (0..365 days before the as-of date). Set-based like
    int_customer_purchase_history (macros/as_of.sql), from int_customer_support_days.
-#}
{#- in batches of customers (macros/as_of_batches.sql), each reads its customers' rows -#}
{{ config(materialized='as_of_table', as_of_batch_by='customer') }}
with

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_table)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

support_days as (
    select * from {{ ref('int_customer_support_days') }}
    where activity_date <= (select max(as_of_date) from run_dates)
      and {{ customer_batch_filter('customer_id') }}
),

bucket_days as (
    {{ as_of_bucket_days(ref('int_customer_support_days'), 'activity_date') }}
),

window_days as (
    {{ as_of_window_days(ref('int_customer_support_days'), 'activity_date', 365) }}
),

bucketed as (
    select
        support_days.customer_id,
        bucket_days.bucket_date,
        sum(support_days.tickets) as tickets,
        sum(support_days.complaints) as complaints
    from support_days
    inner join bucket_days
        on support_days.activity_date = bucket_days.activity_date
    group by 1, 2
),

running as (
    select
        customer_id,
        bucket_date,
        {{ next_bucket_date() }} as next_bucket_date,
        cast(sum(tickets) over to_date as bigint) as tickets_to_date,
        cast(sum(complaints) over to_date as bigint) as complaints_to_date
    from bucketed
    window to_date as (
        partition by customer_id order by bucket_date
        rows between unbounded preceding and current row
    )
),

span_dates as (
    {{ as_of_span_dates('running') }}
),

lifetime as (
    -- carried to every as-of date of the run from the customer's first bucket on
    select
        running.customer_id,
        span_dates.as_of_date,
        running.tickets_to_date,
        running.complaints_to_date
    from running
    inner join span_dates
        on running.bucket_date = span_dates.bucket_date
        and running.next_bucket_date = span_dates.next_bucket_date
),

windows as (
    select
        support_days.customer_id,
        window_days.as_of_date,
        cast(sum(support_days.complaints) as bigint) as complaints_last_365_days
    from support_days
    inner join window_days
        on support_days.activity_date = window_days.activity_date
    group by 1, 2
),

final as (
    select
        lifetime.customer_id,
        lifetime.as_of_date,
        lifetime.tickets_to_date,
        lifetime.complaints_to_date,
        coalesce(windows.complaints_last_365_days, 0) as complaints_last_365_days
    from lifetime
    left join windows
        on lifetime.customer_id = windows.customer_id
        and lifetime.as_of_date = windows.as_of_date
)

select * from final
