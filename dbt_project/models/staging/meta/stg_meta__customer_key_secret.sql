{#- One row: the secret customer_key is keyed with (written by the pipeline; never published). -#}
with

secrets as (
    select * from {{ source('meta', 'customer_key_secret') }}
),

final as (
    select max(secret) as secret
    from secrets
)

select * from final
