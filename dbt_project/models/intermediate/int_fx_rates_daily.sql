{#-
    One row per currency per calendar day from the currency's first to its last published rate:
    the rate of that day, or the last rate published before it (weekends, holidays). Lets
    int_transactions_unified convert with a plain equi-join instead of a range join over
    10M transactions. Portable: a number series, a join and window functions.
-#}
with

rates as (
    select * from {{ ref('stg_fx__rates') }}
),

currency_spans as (
    select
        currency,
        min(rate_date) as first_rate_date,
        max(rate_date) as last_rate_date
    from rates
    group by currency
),

day_numbers as (
    -- 0 .. 36 524: a century of days, far more than any rate history needs
    {{ dbt.generate_series(36525) }}
),

calendar as (
    select
        currency_spans.currency,
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'currency_spans.first_rate_date') }} as date)
            as rate_date
    from currency_spans
    inner join day_numbers
        on day_numbers.generated_number - 1
        <= {{ dbt.datediff('currency_spans.first_rate_date', 'currency_spans.last_rate_date', 'day') }}
),

calendar_with_rates as (
    select
        calendar.currency,
        calendar.rate_date,
        rates.rate_to_reporting,
        rates.rate_date as published_rate_date,
        -- a new group starts at every published rate; days without one join the group before
        count(rates.rate_to_reporting) over (
            partition by calendar.currency order by calendar.rate_date
            rows between unbounded preceding and current row
        ) as rate_group
    from calendar
    left join rates
        on calendar.currency = rates.currency
        and calendar.rate_date = rates.rate_date
),

final as (
    select
        currency,
        rate_date,
        max(rate_to_reporting) over (partition by currency, rate_group) as rate_to_reporting,
        max(published_rate_date) over (partition by currency, rate_group) as published_rate_date
    from calendar_with_rates
)

select * from final
