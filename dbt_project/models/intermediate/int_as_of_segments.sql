{#-
    One row per calendar day from the earliest lookup date to the latest as-of date of the run:
    the lookup date that closes the day's segment (the first lookup date on or after it).

    The customer histories (int_customer_*_history) sum activity per segment instead of per
    day: a lookup only ever reads totals at segment ends, so a daily run with its six lookup
    dates keeps at most seven rows per customer however long the history. Days before the first
    lookup date belong to the first segment; days after the last as-of date to none (the run
    computes nothing after it). macros/segments.sql maps a date to its segment.
-#}
with

lookups as (
    select * from {{ ref('int_as_of_lookups') }}
),

lookup_dates as (
    select distinct lookup_date from lookups
),

bounds as (
    select
        min(lookup_date) as first_lookup_date,
        max(lookup_date) as last_lookup_date
    from lookup_dates
),

day_numbers as (
    {{ dbt.generate_series(36525) }}
),

calendar as (
    select
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'bounds.first_lookup_date') }} as date)
            as calendar_date
    from bounds
    inner join day_numbers
        on day_numbers.generated_number - 1
        <= {{ days_between('bounds.first_lookup_date', 'bounds.last_lookup_date') }}
),

final as (
    select
        calendar.calendar_date,
        min(lookup_dates.lookup_date) as segment_end_date
    from calendar
    inner join lookup_dates
        on lookup_dates.lookup_date >= calendar.calendar_date
    group by calendar.calendar_date
)

select * from final
