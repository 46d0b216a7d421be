{#-
    One row per visitor of the engagement stream (grain visitor_id): each distinct
    (email, anonymous browser id) pair as written, with the normalised email, when it was first
    and last seen and how many events it sent. Web events carry the browser id and, when logged
    in, the email; email-tool events only the email. The stream is the largest input, so it is
    grouped by the integer visitor_id first and the few distinct emails normalised afterwards.

    A daily run recomputes only the visitors with an event in a new file (materialization
    touched_incremental): a visitor's row depends only on its own events.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=['stg_events__events'],
    touched_key='visitor_id',
    touched_keys='event_visitors_touched_keys',
) }}
with

events as (
    select * from {{ ref('stg_events__events') }}
),

visitors as (
    select
        visitor_id,
        {{ dbt.any_value('email_as_written') }} as email_as_written,
        {{ dbt.any_value('anonymous_id') }} as anonymous_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as events
    from events
    where {{ touched_filter('visitor_id') }}
    group by visitor_id
),

final as (
    select
        visitor_id,
        {{ normalize_email('email_as_written') }} as customer_email,
        anonymous_id,
        first_seen_at,
        last_seen_at,
        events
    from visitors
)

select * from final
