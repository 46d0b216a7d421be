{#- One row per as-of date the current run computes segments for (written by the pipeline). -#}
with

run_dates as (
    select * from {{ source('meta', 'run_as_of_dates') }}
),

distinct_dates as (
    select distinct as_of_date
    from run_dates
    where as_of_date is not null
)

select * from distinct_dates
