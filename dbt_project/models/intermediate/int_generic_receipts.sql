{#-
    One row per receipt of the generic sources (grain transaction_key = 'generic:' + folder +
    ':' + receipt id), in the rows and columns int_transactions_unioned unions with the other
    sources. A receipt's positive lines are the sale, its negative lines refunds; its customer,
    currency and category are those of its largest line (ties: category, then line id,
    alphabetical). A return booked on its own receipt (only negative lines) stays a
    transaction with zero gross: it lowers the customer's net revenue but is not a purchase
    (is_purchase is false downstream).

    A table, not part of the int_transactions_unioned view: ranking and grouping every line
    was most of what the view's two readers paid on a daily run (~2.9 of 4.1 s for
    int_transactions_unified at 10M transactions; docs/performance.md). A daily run
    recomputes only the receipts with a line in a new file, from all of their lines
    (materialization touched_incremental): a receipt's row depends only on its own lines.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=['stg_generic__transaction_lines'],
    touched_key='transaction_key',
    touched_keys='generic_receipts_touched_keys',
) }}
with

generic_lines as (
    select * from {{ ref('stg_generic__transaction_lines') }}
    where {{ touched_filter(generic_transaction_key('source_name', 'transaction_id')) }}
),

generic_lines_ranked as (
    -- The receipt's category is the one of its largest line (ties: alphabetical).
    select
        *,
        row_number() over (
            partition by source_name, transaction_id
            order by abs(amount) desc, product_category, transaction_line_id
        ) as line_rank
    from generic_lines
),

receipts as (
    select
        {{ generic_transaction_key('source_name', 'transaction_id') }} as transaction_key,
        'generic' as source,
        source_name as channel,
        transaction_id,
        'generic_customer' as account_type,
        max(case when line_rank = 1 then source_name || ':' || source_customer_id end) as account_id,
        max(case when line_rank = 1 then customer_email end) as customer_email,
        max(case when line_rank = 1 then customer_phone end) as customer_phone,
        cast(null as {{ dbt.type_string() }}) as city,
        max(case when line_rank = 1 then country_code end) as country_code,
        min(occurred_at) as transacted_at,
        max(case when line_rank = 1 then currency end) as currency,
        cast(sum(case when amount > 0 then amount else 0 end) as decimal(18, 4)) as gross_amount,
        cast(sum(case when amount < 0 then -amount else 0 end) as decimal(18, 4)) as refunded_amount,
        -- a generic mapping has no discount column: unknown, not "no discount"
        cast(null as boolean) as has_discount,
        max(case when line_rank = 1 then product_category end) as product_category,
        false as is_disputed,
        max(_source_file) as _source_file
    from generic_lines_ranked
    group by source_name, transaction_id
)

select * from receipts
