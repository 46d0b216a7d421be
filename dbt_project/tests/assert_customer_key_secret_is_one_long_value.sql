{#-
    A returned row means the customer_key secret (meta.customer_key_secret, copied from
    $SEGMENTS_WAREHOUSE_DIR/customer_key.secret) is missing, duplicated or shorter than 32
    characters: customer keys would be a plain, reversible hash of emails. Run the pipeline's
    meta/customer_key_secret asset (any `segments run` does) instead of dbt alone.
-#}
with

secrets as (
    select * from {{ source('meta', 'customer_key_secret') }}
),

summary as (
    select
        count(*) as secrets_count,
        min(length(secret)) as shortest_secret_length
    from secrets
)

select *
from summary
where secrets_count <> 1 or coalesce(shortest_secret_length, 0) < 32
