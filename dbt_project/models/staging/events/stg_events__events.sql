{#- One row per engagement event (web analytics and the email tool). -#}
with

events as (
    select * from {{ source('raw', 'events') }}
),

renamed as (
    select
        -- ids: the raw file carries none; file and line identify the event
        _source_file || ':' || cast(_source_line as {{ dbt.type_string() }}) as event_id,
        -- the visitor as written (email and browser id): lets the stream be grouped per
        -- visitor by an integer before anything is normalised (int_event_visitors)
        {{ identifier_id('email', 'anonymous_id') }} as visitor_id,
        {{ normalize_email('email') }} as customer_email,
        email as email_as_written,
        {{ clean_text('anonymous_id') }} as anonymous_id,

        -- event
        lower(trim(event)) as event_type,

        -- timestamps (UTC)
        occurred_at,
        cast(occurred_at as date) as event_date,

        -- lineage
        _source_file,
        _source_line

    from events
)

select * from renamed
