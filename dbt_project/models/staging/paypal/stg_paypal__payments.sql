{#-
    One row per PayPal payment (money in from a buyer). Refunds and chargebacks are separate
    lines in the same download: see stg_paypal__reversals.
-#}
with

activity as (
    select * from {{ source('raw', 'paypal_activity') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

payments as (
    select * from activity
    where {{ paypal_activity_kind('type', 'gross') }} = 'payment'
),

renamed as (
    select
        -- ids
        payments.transaction_id,

        -- customer
        {{ normalize_email('payments.from_email') }} as customer_email,
        {{ normalize_phone('payments.contact_phone') }} as customer_phone,
        {{ clean_text('payments.name') }} as payer_name,
        country_aliases.country_code,

        -- status
        payments.type as activity_type,
        payments.status as payment_status,
        {{ paypal_is_settled('payments.status') }} as is_purchase,

        -- amounts, major units of `currency`
        upper(trim(payments.currency)) as currency,
        payments.gross as gross_amount,
        payments.fee as fee_amount,
        payments.net as net_amount,

        -- product
        {{ clean_text('payments.item_title') }} as item_title,
        payments.quantity,

        -- timestamps (UTC)
        payments.occurred_at,

        -- lineage
        payments._source_file,
        payments._source_line,
        payments._loaded_at

    from payments
    left join country_aliases
        on lower(trim(payments.country)) = country_aliases.alias
)

select * from renamed
