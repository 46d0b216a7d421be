{#-
    One row per Stripe charge. Amounts arrive in minor units; the currency's ISO 4217 exponent
    (seed currency_minor_units, 2 when unlisted) turns them into major units, so 1999 USD is
    19.99 but 1999 JPY is 1999 yen.
-#}
with

charges as (
    select * from {{ source('raw', 'stripe_charges') }}
),

minor_units as (
    select * from {{ ref('currency_minor_units') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

renamed as (
    select
        -- ids
        charges.charge_id,
        {{ clean_text('charges.customer_id') }} as stripe_customer_id,

        -- customer: billing email first, the receipt email when the card form had none
        coalesce(
            {{ normalize_email('charges.billing_email') }},
            {{ normalize_email('charges.receipt_email') }}
        ) as customer_email,
        {{ normalize_email('charges.receipt_email') }} as receipt_email,
        {{ normalize_phone('charges.billing_phone') }} as customer_phone,
        {{ clean_text('charges.billing_name') }} as billing_name,
        {{ clean_text('charges.billing_city') }} as billing_city,
        country_aliases.country_code as billing_country_code,

        -- status: only a succeeded, paid charge moved money; failed and pending attempts are
        -- not purchases (a declined card is usually retried minutes later as a new charge)
        lower(trim(charges.status)) as charge_status,
        coalesce(lower(trim(charges.status)) = 'succeeded' and charges.is_paid, false) as is_purchase,
        coalesce(charges.is_refunded, false) as is_fully_refunded,
        coalesce(charges.is_disputed, false) as is_disputed,

        -- amounts, converted from minor to major units of `currency`
        upper(trim(charges.currency)) as currency,
        cast(
            charges.amount_minor / power(10, coalesce(minor_units.minor_unit_digits, 2))
            as decimal(18, 4)
        ) as amount,
        cast(
            coalesce(charges.amount_refunded_minor, 0)
            / power(10, coalesce(minor_units.minor_unit_digits, 2))
            as decimal(18, 4)
        ) as refunded_amount,

        -- product and discount (the shop writes them into the charge's metadata)
        -- withheld when it holds an email or a phone: it becomes a published label
        {{ label_text(json_text('charges.metadata', 'category')) }} as product_category,
        {{ holds_personal_data(json_text('charges.metadata', 'category')) }} as is_product_category_withheld,
        {{ json_text('charges.metadata', 'discount_code') }} as discount_code,
        {{ json_text('charges.metadata', 'discount_code') }} is not null as has_discount,
        {{ clean_text('charges.description') }} as description,

        -- timestamps (UTC)
        charges.created_at,

        -- lineage
        charges._source_file,
        charges._source_line,
        charges._loaded_at

    from charges
    left join minor_units
        on upper(trim(charges.currency)) = minor_units.currency
    left join country_aliases
        on lower(trim(charges.billing_country)) = country_aliases.alias
)

select * from renamed
