{#-
    One row per (source, id type, id as the source writes it) → customer_key: the way back from
    a customer_key to the ids each source system knows the customer by, so that a segment can be
    acted on in the system it came from (a Shopify customer by email, a Stripe customer id, a
    loyalty card of a till export, a PayPal payer's email, a CRM contact).

    Built from int_customer_aliases (the identity stitching), without anonymous browser ids
    (a cookie is not a customer id). id_type:
      customer_id  an account id: Stripe customer id, a generic source's mapped customer_id
                   (as written in its CSV, without the folder prefix the identity graph adds)
      email        normalised (lower-case) email: how Shopify, PayPal, the CRM, events and
                   support know a customer
      phone        normalised phone
      order_id     a guest with no email, phone or account: the order / charge id that is the
                   guest's only trace (its own customer)
    email and phone ids are personal data (is_pii): the published BI file carries them only
    with SEGMENTS_PUBLISH_PII=true; the exports carry them (they hold contact data by design).

    A daily run recomputes only the customers whose aliases changed (materialization
    touched_incremental): those int_customer_aliases logged since this model's last build, old
    and new keys.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=[],
    touched_key='customer_key',
    touched_keys='customer_source_ids_touched_keys',
) }}
with

aliases as (
    select * from {{ ref('int_customer_aliases') }}
    where {{ touched_filter('customer_key') }}
),

typed as (
    select
        customer_key,
        source,
        alias_type,
        alias_value,
        case
            when alias_type in ('stripe_customer', 'generic_customer') then 'customer_id'
            when alias_type = 'guest' then 'order_id'
            else alias_type
        end as id_type,
        -- the folder of a generic source ('generic/pos' → 'pos'); the transaction key prefix
        -- of a guest order ('shopify:', 'generic:pos:')
        case when source like 'generic/%' then substr(source, 9) end as generic_folder,
        first_seen_at,
        last_seen_at
    from aliases
    where alias_type <> 'anonymous_id'
),

final as (
    select
        customer_key,
        source,
        id_type,
        case
            -- 'pos:L1' → 'L1': the id as the folder's CSV writes it
            when alias_type = 'generic_customer'
                then substr(alias_value, length(generic_folder) + 2)
            -- 'shopify:1003' → '1003', 'generic:pos:R7' → 'R7'
            when alias_type = 'guest' and generic_folder is not null
                then substr(alias_value, length(generic_folder) + 10)
            when alias_type = 'guest'
                then substr(alias_value, length(source) + 2)
            else alias_value
        end as source_customer_id,
        id_type in ('email', 'phone') as is_pii,
        first_seen_at,
        last_seen_at
    from typed
)

select * from final
