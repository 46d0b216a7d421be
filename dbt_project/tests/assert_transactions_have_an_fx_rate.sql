{{ config(severity='warn') }}
-- Every transaction converts to the reporting currency. A returned row is a currency with no
-- rate at all in raw.fx_rates (its transactions have null reporting amounts and drop out of
-- revenue): land an fx file that covers it.
with

transactions as (
    select * from {{ ref('fct_transactions') }}
)

select
    original_currency,
    count(*) as transactions_without_rate,
    min(transaction_date) as first_date,
    max(transaction_date) as last_date
from transactions
where fx_rate_to_reporting is null
group by original_currency
