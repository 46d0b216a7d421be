{#-
    One row per currency per published day: units of the reporting currency for one unit of
    `currency`. A day loaded twice (a corrected file) keeps the latest load. Days without a
    rate (weekends, holidays) are filled in int_fx_rates_daily.
-#}
with

rates as (
    select * from {{ source('raw', 'fx_rates') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by upper(trim(currency)), rate_date
            order by _loaded_at desc, _source_file desc, _source_line desc
        ) as load_rank
    from rates
    where rate_to_reporting > 0
),

renamed as (
    select
        -- ids
        upper(trim(currency)) || ':' || cast(rate_date as {{ dbt.type_string() }}) as fx_rate_id,
        upper(trim(currency)) as currency,
        rate_date,

        -- amounts
        rate_to_reporting,

        -- lineage
        _source_file,
        _loaded_at

    from ranked
    where load_rank = 1
)

select * from renamed
