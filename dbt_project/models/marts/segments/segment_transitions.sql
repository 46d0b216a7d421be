{{
    config(
        materialized='as_of_incremental',
        unique_key='as_of_date',
        on_schema_change='append_new_columns'
    )
}}
{#-
    One row per as-of date of the run, segment family, from-segment and to-segment: how many
    customers moved between the previous snapshot date (the latest earlier as_of_date in
    segment_snapshots) and this one. Staying put counts too (from = to), so a family's rows of
    one date add up to its customers. A null from-segment is a customer new since the previous
    snapshot, or without a label then (e.g. unscored for RFM). Dates without an earlier
    snapshot have no rows. Incremental by as_of_date, like segment_snapshots.
-#}
with

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_incremental)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

snapshot_dates as (
    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date
    from (select distinct as_of_date from {{ ref('segment_snapshots') }}) as dates
),

run_pairs as (
    select snapshot_dates.as_of_date, snapshot_dates.previous_as_of_date
    from snapshot_dates
    inner join run_dates
        on snapshot_dates.as_of_date = run_dates.as_of_date
    where snapshot_dates.previous_as_of_date is not null
),

snapshots as (
    -- only the snapshots of this run's (or batch's) dates and of the dates just before them:
    -- a range filter on the scan lets DuckDB skip the other dates' row groups, where the
    -- joins below alone read the whole table (10M transactions, 9 batches: 244 s -> ~30 s)
    select * from {{ ref('segment_snapshots') }}
    where as_of_date >= (select min(previous_as_of_date) from run_pairs)
      and as_of_date <= (select max(as_of_date) from run_pairs)
),

moves as (
    select
        run_pairs.as_of_date,
        run_pairs.previous_as_of_date,
        {%- for family in segment_families() %}
        previous.{{ family }} as from_{{ family }},
        current_snapshot.{{ family }} as to_{{ family }}{{ "," if not loop.last }}
        {%- endfor %}
    from run_pairs
    inner join snapshots as current_snapshot
        on current_snapshot.as_of_date = run_pairs.as_of_date
    left join snapshots as previous
        on previous.as_of_date = run_pairs.previous_as_of_date
        and previous.customer_key = current_snapshot.customer_key
),

counted as (
    -- one aggregation with a grouping set per family: no unpivoted copy of the moves
    select
        as_of_date,
        previous_as_of_date,
        case
            {%- for family in segment_families() %}
            when grouping(to_{{ family }}) = 0 then '{{ family }}'
            {%- endfor %}
        end as segment_family,
        case
            {%- for family in segment_families() %}
            when grouping(to_{{ family }}) = 0 then cast(from_{{ family }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as from_segment,
        case
            {%- for family in segment_families() %}
            when grouping(to_{{ family }}) = 0 then cast(to_{{ family }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as to_segment,
        count(*) as customers
    from moves
    group by grouping sets (
        {%- for family in segment_families() %}
        (as_of_date, previous_as_of_date, from_{{ family }}, to_{{ family }}){{ "," if not loop.last }}
        {%- endfor %}
    )
),

final as (
    select
        as_of_date,
        previous_as_of_date,
        segment_family,
        from_segment,
        to_segment,
        customers,
        from_segment is distinct from to_segment as is_move
    from counted
)

select * from final
