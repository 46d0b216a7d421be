{#-
    One row per line of a generic source's transactions CSV (docs/generic_source.md). Lines that
    share a transaction_id are one order; a negative amount is a refund or return.
-#}
with

lines as (
    select * from {{ source('raw', 'generic_transactions') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

renamed as (
    select
        -- ids
        lines._source_file || ':' || cast(lines._source_line as {{ dbt.type_string() }}) as transaction_line_id,
        lines.source_name,
        lines.transaction_id,
        {{ clean_text('lines.customer_id') }} as source_customer_id,

        -- customer
        {{ normalize_email('lines.email') }} as customer_email,
        {{ normalize_phone('lines.phone') }} as customer_phone,
        country_aliases.country_code,

        -- amounts, major units of `currency`
        upper(trim(lines.currency)) as currency,
        lines.amount,
        lines.quantity,
        lines.amount < 0 as is_refund,

        -- product
        -- withheld when it holds an email or a phone: it becomes a published label
        {{ label_text('lines.category') }} as product_category,
        {{ holds_personal_data('lines.category') }} as is_product_category_withheld,
        {{ clean_text('lines.product_name') }} as product_name,

        -- timestamps (UTC)
        lines.occurred_at,

        -- lineage
        lines._source_file,
        lines._source_line,
        lines._loaded_at

    from lines
    left join country_aliases
        on lower(trim(lines.country)) = country_aliases.alias
)

select * from renamed
