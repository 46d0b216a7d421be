{#-
    One row per transaction across every source, with its customer and its amounts converted to
    the reporting currency (SEGMENTS_REPORTING_CURRENCY). The rate is the one of the transaction's
    UTC date, or the newest rate published before it (weekends) — int_fx_rates_daily carries rates
    forward — but only if it is at most fx.max_rate_age_days old (seeds/segment_settings.csv).
    A rate from after the transaction (before a currency's first published rate) is taken only
    within fx.max_days_before_first_rate (default 0: never). Without an acceptable rate the
    converted amounts and fx_rate_date are null, and test assert_transactions_have_an_fx_rate
    stops the run naming currency, dates and count: a missing month of rates must not convert
    at a stale rate (issue 11: 103 sales did). fx_rate_date shows which rate was used.

    A table: fct_transactions publishes it and the customer histories (int_customer_purchase_days,
    int_customer_purchase_history) read it, so intermediate models never read a mart. Its tests
    live on fct_transactions.

    A daily run recomputes only the transactions that changed (materialization
    touched_incremental, macros/touched_keys.sql): those of new files (and the PayPal payments
    a new reversal refers to), those whose identifiers moved to another customer
    (int_customer_identity's keyed_at) and those of the currencies and dates whose rate
    changed. Every customer whose transactions changed is logged for the customer histories.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=[
        'stg_shopify__orders', 'stg_stripe__charges', 'stg_paypal__payments',
        'stg_paypal__reversals', 'stg_generic__transaction_lines',
    ],
    touched_key='transaction_key',
    touched_keys='transactions_unified_touched_keys',
    touched_log='customer_key',
    touched_snapshot=['int_fx_rates_daily'],
    touched_watch=['int_segment_settings'],
) }}
-- depends_on: {{ ref('stg_paypal__reversals') }}
-- depends_on: {{ ref('stg_generic__transaction_lines') }}
with

transactions as (
    select * from {{ ref('int_transactions_unioned') }}
    where {{ touched_filter('transaction_key') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

fx_daily as (
    select * from {{ ref('int_fx_rates_daily') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

fx_bounds as (
    select
        currency,
        min(rate_date) as first_rate_date,
        max(rate_date) as last_rate_date
    from fx_daily
    group by currency
),

fx_edges as (
    select
        fx_bounds.currency,
        fx_bounds.first_rate_date,
        fx_bounds.last_rate_date,
        first_rates.rate_to_reporting as first_rate,
        last_rates.rate_to_reporting as last_rate,
        last_rates.published_rate_date as last_published_rate_date
    from fx_bounds
    inner join fx_daily as first_rates
        on fx_bounds.currency = first_rates.currency
        and fx_bounds.first_rate_date = first_rates.rate_date
    inner join fx_daily as last_rates
        on fx_bounds.currency = last_rates.currency
        and fx_bounds.last_rate_date = last_rates.rate_date
),

candidates as (
    -- the nearest published rate: of the day or carried forward, else the first or last one
    select
        transactions.*,
        identity.customer_key,
        case
            when transactions.currency = '{{ reporting_currency() }}' then 1
            when fx_daily.rate_to_reporting is not null then fx_daily.rate_to_reporting
            when transactions.transaction_date < fx_edges.first_rate_date then fx_edges.first_rate
            else fx_edges.last_rate
        end as candidate_rate,
        case
            when transactions.currency = '{{ reporting_currency() }}' then transactions.transaction_date
            when fx_daily.rate_to_reporting is not null then fx_daily.published_rate_date
            when transactions.transaction_date < fx_edges.first_rate_date then fx_edges.first_rate_date
            else fx_edges.last_published_rate_date
        end as candidate_rate_date
    from transactions
    inner join identity
        on {{ identifier_id('transactions.record_identifier') }} = identity.identifier_id
    left join fx_daily
        on transactions.currency = fx_daily.currency
        and transactions.transaction_date = fx_daily.rate_date
    left join fx_edges
        on transactions.currency = fx_edges.currency
),

converted as (
    -- the candidate only when fresh enough (fx settings); otherwise no rate at all
    select
        candidates.*,
        case when is_acceptable_rate then candidate_rate end as fx_rate_to_reporting,
        case when is_acceptable_rate then candidate_rate_date end as fx_rate_date
    from (
        select
            candidates.*,
            coalesce(
                candidates.candidate_rate_date <= candidates.transaction_date
                and {{ dbt.datediff('candidates.candidate_rate_date', 'candidates.transaction_date', 'day') }}
                    <= settings.fx_max_rate_age_days
                or candidates.candidate_rate_date > candidates.transaction_date
                and {{ dbt.datediff('candidates.transaction_date', 'candidates.candidate_rate_date', 'day') }}
                    <= settings.fx_max_days_before_first_rate,
                false
            ) as is_acceptable_rate
        from candidates
        cross join settings
    ) as candidates
),

final as (
    select
        -- ids
        transaction_key,
        transaction_id,
        source,
        channel,
        customer_key,

        -- timestamps (UTC)
        transacted_at,
        transaction_date,

        -- amounts in the reporting currency
        '{{ reporting_currency() }}' as reporting_currency,
        cast(gross_amount * fx_rate_to_reporting as decimal(18, 2)) as gross_amount,
        cast(refunded_amount * fx_rate_to_reporting as decimal(18, 2)) as refunded_amount,
        cast(
            cast(gross_amount * fx_rate_to_reporting as decimal(18, 2))
            - cast(refunded_amount * fx_rate_to_reporting as decimal(18, 2))
            as decimal(18, 2)
        ) as net_amount,

        -- amounts in the original currency, for reconciliation with the source systems
        currency as original_currency,
        gross_amount as gross_amount_original,
        refunded_amount as refunded_amount_original,
        cast(net_amount as decimal(18, 4)) as net_amount_original,
        cast(fx_rate_to_reporting as decimal(18, 8)) as fx_rate_to_reporting,
        fx_rate_date,

        -- attributes
        is_purchase,
        has_discount,
        is_disputed,
        product_category,
        country_code,
        city
    from converted
)

select * from final
