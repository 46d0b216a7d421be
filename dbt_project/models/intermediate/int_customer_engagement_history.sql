{#-
    One row per customer (customer_id = identifier_id(customer_key)) per as-of date of the run
    on or after the customer's first engagement event: the last engagement date, and events,
    sessions and weighted points in the last 30 / 90 days (0..N days before the as-of date).
    Set-based like int_customer_purchase_history (macros/as_of.sql).

    An event belongs to a customer by its email, or else by its anonymous browser id when that
    browser was only ever logged in as one customer (int_customer_aliases); other anonymous
    events belong to nobody. Points are events weighted by type (seed engagement_event_weights);
    points_x_day_number_90 lets customer_facts weight the points by recency.
-#}
with

events as (
    select * from {{ ref('stg_events__events') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

aliases as (
    select * from {{ ref('int_customer_aliases') }}
),

event_visitors as (
    select * from {{ ref('int_event_visitors') }}
),

weights as (
    select * from {{ ref('engagement_event_weights') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

visitor_customers as (
    -- each visitor resolved once: its email's customer, else its browser's
    select
        event_visitors.visitor_id,
        {{ identifier_id('coalesce(by_email.customer_key, by_browser.customer_key)') }} as customer_id
    from event_visitors
    left join identity as by_email
        on by_email.identifier_id = {{ identifier_id(identifier("'email'", 'event_visitors.customer_email')) }}
    left join aliases as by_browser
        on by_browser.alias_type = 'anonymous_id'
        and by_browser.alias_value = event_visitors.anonymous_id
    where coalesce(by_email.customer_key, by_browser.customer_key) is not null
),

visitor_days as (
    -- collapse the (very many) events per visitor and day before resolving customers
    select
        events.visitor_id,
        events.event_date as activity_date,
        count(*) as events,
        count(case when events.event_type = 'session_start' then 1 end) as sessions,
        sum(coalesce(weights.weight, 0)) as points
    from events
    left join weights
        on events.event_type = weights.event_type
    where events.event_date <= (select max(as_of_date) from run_dates)
    group by 1, 2
),

engagement_days as (
    select
        visitor_customers.customer_id,
        visitor_days.activity_date,
        sum(visitor_days.events) as events,
        sum(visitor_days.sessions) as sessions,
        sum(visitor_days.points) as points
    from visitor_days
    inner join visitor_customers
        on visitor_days.visitor_id = visitor_customers.visitor_id
    group by 1, 2
),

bucket_days as (
    {{ as_of_bucket_days('engagement_days', 'activity_date') }}
),

window_days as (
    {{ as_of_window_days('engagement_days', 'activity_date', 90) }}
),

bucketed as (
    select
        engagement_days.customer_id,
        bucket_days.bucket_date,
        max(engagement_days.activity_date) as last_event_date
    from engagement_days
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
    from engagement_days
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
