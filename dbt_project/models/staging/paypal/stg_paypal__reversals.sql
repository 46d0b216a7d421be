{#-
    One row per PayPal refund or chargeback: a negative line whose reference_transaction_id is
    the payment's transaction_id. Amounts are made positive (the money returned).
-#}
with

activity as (
    select * from {{ source('raw', 'paypal_activity') }}
),

reversals as (
    select
        *,
        {{ paypal_activity_kind('type', 'gross') }} as reversal_kind
    from activity
    where {{ paypal_activity_kind('type', 'gross') }} in ('refund', 'chargeback')
),

renamed as (
    select
        -- ids
        transaction_id,
        reference_transaction_id as payment_transaction_id,

        -- status
        reversal_kind,
        type as activity_type,
        status as reversal_status,
        {{ paypal_is_settled('status') }} as is_settled,

        -- amounts, major units of `currency`, positive
        upper(trim(currency)) as currency,
        -gross as reversed_amount,

        -- timestamps (UTC)
        occurred_at,

        -- lineage
        _source_file,
        _source_line,
        _loaded_at

    from reversals
)

select * from renamed
