{#-
    One row per as-of date of the run and lookup: the dates on which customer_facts and
    int_rfm_values read the customers' running totals. 'now' is the as-of date itself;
    'before_N' is the last day before an N-day window (N + 1 days earlier), whose totals a
    windowed count subtracts ("last 30 days" = 0..30 days before the as-of date).
-#}
with

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

offsets as (
    select 'now' as lookup, 0 as days_before
    union all select 'before_30', 31
    union all select 'before_90', 91
    union all select 'before_180', 181
    union all select 'before_365', 366
    union all select 'before_rfm_lookback', rfm_lookback_days + 1 from settings
),

final as (
    select
        run_dates.as_of_date,
        offsets.lookup,
        offsets.days_before,
        {{ days_before('run_dates.as_of_date', 'offsets.days_before') }} as lookup_date
    from run_dates
    cross join offsets
)

select * from final
