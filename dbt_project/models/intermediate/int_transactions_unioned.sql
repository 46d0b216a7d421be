{#-
    One row per transaction (order, charge, payment, till receipt) across every source, in the
    transaction's own currency, before identity and currency conversion. Only purchases that
    moved money are here: voided/pending Shopify orders, failed/pending Stripe charges and
    pending/denied PayPal payments are excluded. Refunds are netted onto their transaction:
    Shopify's Refunded Amount, Stripe's amount_refunded, PayPal refund and chargeback lines
    linked by reference id, and negative lines of a generic receipt.

    has_discount is known only where the source carries discount data: Shopify (Discount Code /
    Discount Amount) and Stripe (the shop's metadata.discount_code). PayPal's Activity download
    and generic CSVs do not, so it is null there (price_sensitivity says 'unknown', not
    'full_price_buyer', for a customer with no such order).

    A view, not a table: its two readers (int_identifiers_observed, int_transactions_unified)
    each compute it again, which costs them ~3.5 s together at 10M transactions, while
    writing it as a table cost ~12.5 s of its ~15.5 s (2026-12-03, docs/performance.md). The
    generic receipts, whose lines must be ranked and grouped, come from a table of their own
    (int_generic_receipts, incremental by receipt): in the view they were most of what a
    daily run's readers paid for it (2026-12-04). Its
    guarantees are checked where the rows are written: int_transactions_unified's contract
    (NOT NULL key, currency and amounts) and fct_transactions' unique transaction_key.
-#}
{{ config(materialized='view') }}
with

shopify_orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

stripe_charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

paypal_payments as (
    select * from {{ ref('stg_paypal__payments') }}
),

paypal_reversals as (
    select * from {{ ref('stg_paypal__reversals') }}
),

generic_receipts as (
    select * from {{ ref('int_generic_receipts') }}
),

shopify as (
    select
        'shopify' as source,
        'shopify' as channel,
        order_id as transaction_id,
        cast(null as {{ dbt.type_string() }}) as account_type,
        cast(null as {{ dbt.type_string() }}) as account_id,
        customer_email,
        customer_phone,
        billing_city as city,
        billing_country_code as country_code,
        ordered_at as transacted_at,
        currency,
        cast(total_amount as decimal(18, 4)) as gross_amount,
        cast(refunded_amount as decimal(18, 4)) as refunded_amount,
        has_discount,
        product_category,
        false as is_disputed,
        _source_file
    from shopify_orders
    where is_purchase
),

stripe as (
    select
        'stripe' as source,
        'stripe' as channel,
        charge_id as transaction_id,
        'stripe_customer' as account_type,
        stripe_customer_id as account_id,
        customer_email,
        customer_phone,
        billing_city as city,
        billing_country_code as country_code,
        created_at as transacted_at,
        currency,
        amount as gross_amount,
        least(refunded_amount, amount) as refunded_amount,
        has_discount,
        product_category,
        is_disputed,
        _source_file
    from stripe_charges
    where is_purchase
),

paypal_reversals_per_payment as (
    -- Only settled reversals returned money; a chargeback marks the payment disputed whatever
    -- its status (the dispute exists).
    select
        payment_transaction_id,
        sum(case when is_settled then reversed_amount else 0 end) as reversed_amount,
        max(case when reversal_kind = 'chargeback' then 1 else 0 end) = 1 as has_chargeback
    from paypal_reversals
    group by payment_transaction_id
),

paypal as (
    select
        'paypal' as source,
        'paypal' as channel,
        paypal_payments.transaction_id,
        cast(null as {{ dbt.type_string() }}) as account_type,
        cast(null as {{ dbt.type_string() }}) as account_id,
        paypal_payments.customer_email,
        paypal_payments.customer_phone,
        cast(null as {{ dbt.type_string() }}) as city,
        paypal_payments.country_code,
        paypal_payments.occurred_at as transacted_at,
        paypal_payments.currency,
        cast(paypal_payments.gross_amount as decimal(18, 4)) as gross_amount,
        cast(
            least(coalesce(paypal_reversals_per_payment.reversed_amount, 0), paypal_payments.gross_amount)
            as decimal(18, 4)
        ) as refunded_amount,
        -- an Activity download shows no discount: unknown, not "no discount"
        cast(null as boolean) as has_discount,
        cast(null as {{ dbt.type_string() }}) as product_category,
        coalesce(paypal_reversals_per_payment.has_chargeback, false) as is_disputed,
        -- the payment's file: a reversal changes amounts, not who paid (int_identifiers_observed)
        paypal_payments._source_file
    from paypal_payments
    left join paypal_reversals_per_payment
        on paypal_payments.transaction_id = paypal_reversals_per_payment.payment_transaction_id
    where paypal_payments.is_purchase
),

generic as (
    -- one row per receipt, ranked and summed in int_generic_receipts
    select
        source,
        channel,
        transaction_id,
        account_type,
        account_id,
        customer_email,
        customer_phone,
        city,
        country_code,
        transacted_at,
        currency,
        gross_amount,
        refunded_amount,
        has_discount,
        product_category,
        is_disputed,
        _source_file
    from generic_receipts
),

unioned as (
    select * from shopify
    union all
    select * from stripe
    union all
    select * from paypal
    union all
    select * from generic
),

keyed as (
    select
        *,
        -- generic sources share one id space per folder, so the folder is part of the key
        source || ':'
        || case when source = 'generic' then channel || ':' else '' end
        || transaction_id as transaction_key
    from unioned
),

final as (
    select
        -- ids
        transaction_key,
        source,
        channel,
        transaction_id,

        -- customer identifiers (stitched in int_customer_identity)
        account_type,
        account_id,
        customer_email,
        customer_phone,
        {{ record_identifier(
            'account_type', 'account_id', 'customer_email', 'customer_phone', 'transaction_key'
        ) }} as record_identifier,
        city,
        country_code,

        -- timestamps (UTC)
        transacted_at,
        cast(transacted_at as date) as transaction_date,

        -- amounts, original currency
        currency,
        gross_amount,
        refunded_amount,
        gross_amount - refunded_amount as net_amount,

        -- attributes
        gross_amount > 0 as is_purchase,
        has_discount,
        product_category,
        is_disputed,

        -- lineage: the file the transaction came from (a generic receipt: its last file); the
        -- touched_incremental models above follow new files by it
        _source_file
    from keyed
)

select * from final
