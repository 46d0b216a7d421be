{#-
    One row per transaction (order, charge, payment, till receipt) across every source: the
    customer, the channel, the UTC time, and gross / refunded / net amounts in the reporting
    currency and in the original currency. A copy of int_transactions_unified (which the
    intermediate customer histories read): this is the BI-facing table.
-#}
with

transactions as (
    select * from {{ ref('int_transactions_unified') }}
),

final as (
    select * from transactions
)

select * from final
