{#-
    One row per customer (customer_id = identifier_id(customer_key)) per as-of segment with
    engagement events (see int_customer_purchase_history for segments and how customer_facts
    reads the running totals).

    An event belongs to a customer by its email, or else by its anonymous browser id when that
    browser was only ever logged in as one customer (int_customer_aliases); other anonymous
    events belong to nobody. Points are events weighted by type (seed engagement_event_weights);
    points_x_day_number_to_date lets customer_facts weight points by recency with two lookups.
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

as_of_segments as (
    select * from {{ ref('int_as_of_segments') }}
),

segment_bounds as (
    select
        max(calendar_date) as last_calendar_date,
        min(segment_end_date) as first_segment_end_date
    from as_of_segments
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

segmented_events as (
    -- collapse the (very many) events per visitor and segment before resolving customers
    select
        events.visitor_id,
        coalesce(as_of_segments.segment_end_date, segment_bounds.first_segment_end_date) as segment_end_date,
        count(*) as events,
        count(case when events.event_type = 'session_start' then 1 end) as sessions,
        sum(coalesce(weights.weight, 0)) as points,
        sum(coalesce(weights.weight, 0) * {{ day_number('events.event_date') }}) as points_x_day_number,
        max(events.event_date) as last_event_date
    from events
    cross join segment_bounds
    left join as_of_segments
        on events.event_date = as_of_segments.calendar_date
    left join weights
        on events.event_type = weights.event_type
    where events.event_date <= segment_bounds.last_calendar_date
    group by 1, 2
),

segmented as (
    select
        visitor_customers.customer_id,
        segmented_events.segment_end_date,
        sum(segmented_events.events) as events,
        sum(segmented_events.sessions) as sessions,
        sum(segmented_events.points) as points,
        sum(segmented_events.points_x_day_number) as points_x_day_number,
        max(segmented_events.last_event_date) as last_event_date
    from segmented_events
    inner join visitor_customers
        on segmented_events.visitor_id = visitor_customers.visitor_id
    group by 1, 2
),

final as (
    select
        customer_id,
        segment_end_date,
        events,
        cast(sum(events) over to_date as bigint) as events_to_date,
        cast(sum(sessions) over to_date as bigint) as sessions_to_date,
        sum(points) over to_date as points_to_date,
        sum(points_x_day_number) over to_date as points_x_day_number_to_date,
        max(last_event_date) over to_date as last_engagement_date
    from segmented
    window to_date as (
        partition by customer_id order by segment_end_date
        rows between unbounded preceding and current row
    )
)

select * from final
