{#-
    One row per customer per UTC day with engagement events, with running totals up to and
    including that day (see int_customer_purchase_days for how customer_facts uses them).

    An event belongs to a customer by its email, or else by its anonymous browser id when that
    browser was only ever logged in as one customer (int_customer_aliases); other anonymous
    events belong to nobody. Points are events weighted by type (seed engagement_event_weights);
    points_x_day_number_to_date lets customer_facts weight points by recency with two lookups.
-#}
with

event_days as (
    select * from {{ ref('int_engagement_events_daily') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

aliases as (
    select * from {{ ref('int_customer_aliases') }}
),

weights as (
    select * from {{ ref('engagement_event_weights') }}
),

attributed as (
    select
        coalesce(by_email.customer_key, by_browser.customer_key) as customer_key,
        event_days.activity_date,
        event_days.event_type,
        event_days.events
    from event_days
    left join identity as by_email
        on by_email.identifier_id = {{ identifier_id(identifier("'email'", 'event_days.customer_email')) }}
    left join aliases as by_browser
        on by_browser.alias_type = 'anonymous_id'
        and by_browser.alias_value = event_days.anonymous_id
),

daily as (
    select
        attributed.customer_key,
        attributed.activity_date,
        cast(sum(attributed.events) as bigint) as events,
        sum(case when attributed.event_type = 'session_start' then attributed.events else 0 end) as sessions,
        sum(attributed.events * coalesce(weights.weight, 0)) as points
    from attributed
    left join weights
        on attributed.event_type = weights.event_type
    where attributed.customer_key is not null
    group by attributed.customer_key, attributed.activity_date
),

final as (
    select
        customer_key,
        activity_date,
        events,
        cast(sum(events) over to_date as bigint) as events_to_date,
        cast(sum(sessions) over to_date as bigint) as sessions_to_date,
        sum(points) over to_date as points_to_date,
        sum(points * {{ day_number('activity_date') }}) over to_date as points_x_day_number_to_date
    from daily
    window to_date as (
        partition by customer_key order by activity_date
        rows between unbounded preceding and current row
    )
)

select * from final
