{#-
    One row per customer (customer_id = identifier_id(customer_key)) per UTC day with
    engagement events: events, sessions and points (events weighted by type, seed
    engagement_event_weights). The daily grain int_customer_engagement_history reads; a table
    of its own so that the as-of passes read it from disk rather than from one large
    materialised CTE (which DuckDB cannot spill: 10M transactions ran out of memory).

    An event belongs to a customer by its email, or else by its anonymous browser id when that
    browser was only ever logged in as one customer (int_customer_aliases); other anonymous
    events belong to nobody.

    A daily run recomputes only the customers whose identifiers or browsers were recomputed
    (materialization touched_incremental): their old and new keys, as int_customer_identity and
    int_customer_aliases logged them since this model's last build, and only their visitors'
    events are read.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=[],
    touched_key='customer_id',
    touched_keys='customer_engagement_days_touched_keys',
) }}
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
        and {{ touched_filter(identifier_id('coalesce(by_email.customer_key, by_browser.customer_key)')) }}
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
    where {{ touched_filter('events.visitor_id', 'select visitor_id from visitor_customers') }}
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
)

select * from engagement_days
