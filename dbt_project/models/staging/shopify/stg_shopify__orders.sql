{#-
    One row per Shopify order. The export repeats order-level fields on every line (the reader
    forward-fills them), so the order is its first line.
-#}
with

order_lines as (
    select * from {{ source('raw', 'shopify_orders') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

first_lines as (
    select * from order_lines
    where line_number_in_order = 1
),

renamed as (
    select
        -- ids
        first_lines.order_id,
        first_lines.order_name,

        -- customer
        {{ normalize_email('first_lines.email') }} as customer_email,
        {{ normalize_phone('first_lines.billing_phone') }} as customer_phone,
        {{ clean_text('first_lines.billing_name') }} as billing_name,
        {{ clean_text('first_lines.billing_city') }} as billing_city,
        country_aliases.country_code as billing_country_code,

        -- status: authorised-then-voided and pending orders took no money
        lower(trim(first_lines.financial_status)) as financial_status,
        coalesce(
            lower(trim(first_lines.financial_status))
            in ('paid', 'partially_paid', 'partially_refunded', 'refunded'),
            false
        ) as is_purchase,

        -- amounts, in major units of `currency`
        upper(trim(first_lines.currency)) as currency,
        first_lines.subtotal as subtotal_amount,
        coalesce(first_lines.shipping, 0) as shipping_amount,
        coalesce(first_lines.taxes, 0) as tax_amount,
        first_lines.total as total_amount,
        coalesce(first_lines.discount_amount, 0) as discount_amount,
        -- a refund can never exceed what was paid; a larger value is an export glitch
        least(coalesce(first_lines.refunded_amount, 0), first_lines.total) as refunded_amount,
        {{ clean_text('first_lines.discount_code') }} as discount_code,
        (
            {{ clean_text('first_lines.discount_code') }} is not null
            or coalesce(first_lines.discount_amount, 0) > 0
        ) as has_discount,

        -- product: the orders export has no product type; shops tag orders with their
        -- categories ("apparel, footwear"), and the first tag is the order's category
        -- (withheld when it holds an email or a phone: it becomes a published label)
        {{ label_text(dbt.split_part('first_lines.tags', "','", 1)) }} as product_category,
        {{ holds_personal_data(dbt.split_part('first_lines.tags', "','", 1)) }} as is_product_category_withheld,
        {{ clean_text('first_lines.source_name') }} as sales_channel,

        -- timestamps (UTC)
        first_lines.created_at as ordered_at,
        first_lines.paid_at,

        -- lineage
        first_lines._source_file,
        first_lines._source_line,
        first_lines._loaded_at

    from first_lines
    left join country_aliases
        on lower(trim(first_lines.billing_country)) = country_aliases.alias
)

select * from renamed
