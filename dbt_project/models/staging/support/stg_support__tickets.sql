{#- One row per support ticket. -#}
with

tickets as (
    select * from {{ source('raw', 'support_tickets') }}
),

renamed as (
    select
        -- ids
        ticket_id,
        {{ normalize_email('requester_email') }} as customer_email,

        -- ticket
        lower(trim(type)) as ticket_type,
        lower(trim(type)) = 'complaint' as is_complaint,
        lower(trim(status)) as ticket_status,

        -- timestamps (UTC)
        created_at,

        -- lineage
        _source_file,
        _source_line,
        _loaded_at

    from tickets
)

select * from renamed
