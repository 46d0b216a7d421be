{{ config(severity='error', store_failures=true) }}
{#-
    A returned row is a published fx rate that differs from the same currency's previous
    published rate by more than fx.max_daily_change_share (seeds/segment_settings.csv; 0.50 =
    up 50% or down by a third), either way: a typo such as 24.2 for 0.242 would make one sale
    100 times too large (issue 11). The row names the currency, the date, both rates and the file
    (also stored in dbt_test__audit.assert_fx_rates_move_within_the_daily_limit of
    build.duckdb). Fix the rate in the fx file and land it again; a real devaluation that big
    needs the setting raised for that run.
-#}
with

rates as (
    select * from {{ ref('stg_fx__rates') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

steps as (
    select
        currency,
        rate_date,
        rate_to_reporting,
        _source_file,
        lag(rate_date) over (partition by currency order by rate_date) as previous_rate_date,
        lag(rate_to_reporting) over (partition by currency order by rate_date) as previous_rate
    from rates
)

select
    steps.currency,
    steps.rate_date,
    steps.rate_to_reporting,
    steps.previous_rate_date,
    steps.previous_rate,
    steps._source_file
from steps
cross join settings
where steps.previous_rate is not null
  and (
    steps.rate_to_reporting > steps.previous_rate * (1 + settings.fx_max_daily_change_share)
    or steps.previous_rate > steps.rate_to_reporting * (1 + settings.fx_max_daily_change_share)
  )
