{{ config(severity='error', store_failures=true) }}
{#-
    Every transaction converts to the reporting currency at an acceptable rate. A returned row
    is a currency with transactions that have none: no rate at all in raw.fx_rates, none
    published within fx.max_rate_age_days before the transaction (a missing month of rates),
    or only rates from after it (a currency whose rates start late; fx.max_days_before_first_rate).
    Their converted amounts are null, and the run stops before publishing, so no sale is
    converted at a stale or future rate. The row names the currency, how many transactions and
    their first and last dates (also stored in dbt_test__audit.assert_transactions_have_an_fx_rate
    of build.duckdb): land an fx file covering those dates, or change the fx settings in
    dbt_project/seeds/segment_settings.csv. See docs/operations.md, "FX rates".
-#}
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
