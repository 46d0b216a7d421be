{#- One row per line item of a Shopify order. -#}
with

order_lines as (
    select * from {{ source('raw', 'shopify_orders') }}
),

renamed as (
    select
        -- ids
        order_id || '-' || cast(line_number_in_order as {{ dbt.type_string() }}) as order_line_id,
        order_id,
        line_number_in_order as line_number,

        -- product
        {{ clean_text('lineitem_name') }} as product_name,
        {{ clean_text('lineitem_sku') }} as product_sku,

        -- amounts, in major units of `currency`
        upper(trim(currency)) as currency,
        lineitem_quantity as quantity,
        lineitem_price as unit_price_amount,
        lineitem_quantity * lineitem_price as line_amount,

        -- lineage
        _source_file,
        _source_line,
        _loaded_at

    from order_lines
)

select * from renamed
