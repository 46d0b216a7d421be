{#- One row per engagement event (web analytics and the email tool). -#}
with

events as (
    select * from {{ source('raw', 'events') }}
),

renamed as (
    select
        -- ids: the raw file carries none; file and line identify the event
        _source_file || ':' || cast(_source_line as {{ dbt.type_string() }}) as event_id,
        {{ normalize_email('email') }} as customer_email,
        {{ clean_text('anonymous_id') }} as anonymous_id,

        -- event
        lower(trim(event)) as event_type,

        -- timestamps (UTC)
        occurred_at,

        -- lineage
        _source_file,
        _source_line

    from events
)

select * from renamed
