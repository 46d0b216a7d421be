{#-
    One row per (email, anonymous browser id, UTC day, event type) with the number of events:
    the engagement stream collapsed once, because it is the largest input by far (several events
    per purchase) and three models read it (identity, browser attribution, engagement history).
-#}
with

events as (
    select * from {{ ref('stg_events__events') }}
),

final as (
    select
        customer_email,
        anonymous_id,
        cast(occurred_at as date) as activity_date,
        event_type,
        count(*) as events,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at
    from events
    group by customer_email, anonymous_id, cast(occurred_at as date), event_type
)

select * from final
