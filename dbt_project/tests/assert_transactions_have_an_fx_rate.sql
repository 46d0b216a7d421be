{{ config(
    severity='error',
    store_failures=true,
    meta={
        'dagster': {'ref': {'name': 'fct_transactions'}},
        'fix': 'land fx rates for that currency and those dates in fx/ (docs/operations.md, FX rates), or retract the file with `segments unload FILE`',
    },
) }}
{#-
    Every transaction converts to the reporting currency at an acceptable rate. A returned row
    is a currency and a landed file with transactions that have none: no rate at all in
    raw.fx_rates, none published within fx.max_rate_age_days before the transaction (a missing
    month of rates), or only rates from after it (a currency whose rates start late;
    fx.max_days_before_first_rate). Their converted amounts are null, and the run stops before
    publishing, so no sale is converted at a stale or future rate. The row names the currency,
    the file (_source_file, and the first such line, _source_line), how many transactions and
    their first and last dates (also stored in dbt_test__audit.assert_transactions_have_an_fx_rate
    of build.duckdb): land an fx file covering those dates, or change the fx settings in
    dbt_project/seeds/segment_settings.csv. See docs/operations.md, "FX rates".
-#}
with

transactions as (
    select * from {{ ref('fct_transactions') }}
    where fx_rate_to_reporting is null
),

-- where each transaction was landed: its staging row's file and line
lineage as (
    select 'shopify' as source, 'shopify' as channel, order_id as transaction_id, _source_file, _source_line
    from {{ ref('stg_shopify__orders') }}
    union all
    select 'stripe', 'stripe', charge_id, _source_file, _source_line
    from {{ ref('stg_stripe__charges') }}
    union all
    select 'paypal', 'paypal', transaction_id, _source_file, _source_line
    from {{ ref('stg_paypal__payments') }}
    union all
    select 'generic', source_name, transaction_id, min(_source_file), min(_source_line)
    from {{ ref('stg_generic__transaction_lines') }}
    group by source_name, transaction_id
)

select
    transactions.original_currency,
    count(*) as transactions_without_rate,
    min(transactions.transaction_date) as first_date,
    max(transactions.transaction_date) as last_date,
    lineage._source_file,
    min(lineage._source_line) as _source_line
from transactions
left join lineage
    on transactions.source = lineage.source
    and transactions.channel = lineage.channel
    and transactions.transaction_id = lineage.transaction_id
group by transactions.original_currency, lineage._source_file
