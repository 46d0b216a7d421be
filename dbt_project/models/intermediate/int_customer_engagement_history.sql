{#-
    One row per customer (customer_id = identifier_id(customer_key)) per as-of date of the run
    on or after the customer's first engagement event: the last engagement date, and events,
    sessions and weighted points in the last 30 / 90 days (0..N days before the as-of date).
    Set-based like int_customer_purchase_history (macros/as_of.sql).

    Reads the customer's engagement days (int_customer_engagement_days: events resolved to
    customers, points weighted by type); points_x_day_number_90 lets customer_facts weight the
    points by recency.
-#}
{#- the daily table is read where needed, not through a CTE that DuckDB might materialise;
    in batches of customers (macros/as_of_batches.sql), each reads its customers' rows -#}
{{ config(materialized='as_of_table', as_of_batch_by='customer') }}
{%- set engagement_days -%}
    (select * from {{ ref('int_customer_engagement_days') }} where {{ customer_batch_filter('customer_id') }})
{%- endset %}
with

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_table)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

bucket_days as (
    {{ as_of_bucket_days(ref('int_customer_engagement_days'), 'activity_date') }}
),

window_days as (
    {{ as_of_window_days(ref('int_customer_engagement_days'), 'activity_date', 90) }}
),

bucketed as (
    select
        engagement_days.customer_id,
        bucket_days.bucket_date,
        max(engagement_days.activity_date) as last_event_date
    from {{ engagement_days }} as engagement_days
    inner join bucket_days
        on engagement_days.activity_date = bucket_days.activity_date
    group by 1, 2
),

running as (
    select
        customer_id,
        bucket_date,
        {{ next_bucket_date() }} as next_bucket_date,
        max(last_event_date) over (
            partition by customer_id order by bucket_date
            rows between unbounded preceding and current row
        ) as last_engagement_date
    from bucketed
),

span_dates as (
    {{ as_of_span_dates('running') }}
),

lifetime as (
    -- carried to every as-of date of the run from the customer's first bucket on
    select
        running.customer_id,
        span_dates.as_of_date,
        running.last_engagement_date
    from running
    inner join span_dates
        on running.bucket_date = span_dates.bucket_date
        and running.next_bucket_date = span_dates.next_bucket_date
),

windows as (
    select
        engagement_days.customer_id,
        window_days.as_of_date,
        cast(sum(engagement_days.events) filter (where window_days.days_ago <= 30) as bigint)
            as engagement_events_last_30_days,
        cast(sum(engagement_days.events) as bigint) as engagement_events_last_90_days,
        cast(sum(engagement_days.sessions) filter (where window_days.days_ago <= 30) as bigint)
            as sessions_last_30_days,
        sum(engagement_days.points) as points_90,
        sum(engagement_days.points * {{ day_number('engagement_days.activity_date') }}) as points_x_day_number_90
    from {{ engagement_days }} as engagement_days
    inner join window_days
        on engagement_days.activity_date = window_days.activity_date
    group by 1, 2
),

final as (
    select
        lifetime.customer_id,
        lifetime.as_of_date,
        lifetime.last_engagement_date,
        coalesce(windows.engagement_events_last_30_days, 0) as engagement_events_last_30_days,
        coalesce(windows.engagement_events_last_90_days, 0) as engagement_events_last_90_days,
        coalesce(windows.sessions_last_30_days, 0) as sessions_last_30_days,
        coalesce(windows.points_90, 0) as points_90,
        coalesce(windows.points_x_day_number_90, 0) as points_x_day_number_90
    from lifetime
    left join windows
        on lifetime.customer_id = windows.customer_id
        and lifetime.as_of_date = windows.as_of_date
)

select * from final
