{#-
    One row per transaction (order, charge, payment, till receipt) across every source: the
    customer, the channel, the UTC time, and gross / refunded / net amounts in the reporting
    currency and in the original currency. A view of int_transactions_unified (the table the
    intermediate customer histories read, so intermediate models never read a mart): the
    BI-facing name, without a second copy of every transaction (writing it cost ~10 s a run at
    10M transactions).
-#}
with

transactions as (
    select * from {{ ref('int_transactions_unified') }}
),

final as (
    select * from transactions
)

select * from final
