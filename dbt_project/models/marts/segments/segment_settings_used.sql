{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns'
    )
}}
{#-
    One row per as-of date of the run, family and parameter: every segment threshold the run
    used (seeds rfm_settings, segment_settings, engagement_event_weights) and the values it
    derived from the data (the VIP cut-off). With rfm_score_cutoffs, the record of how each
    snapshot's segments were computed. Incremental by as_of_date.
-#}
with

rfm_settings as (
    select * from {{ ref('rfm_settings') }}
),

segment_settings as (
    select * from {{ ref('segment_settings') }}
),

event_weights as (
    select * from {{ ref('engagement_event_weights') }}
),

value_tiers as (
    select * from {{ ref('value_tier_segments') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

configured as (
    select 'rfm' as family, parameter, cast(value as {{ dbt.type_string() }}) as value from rfm_settings
    union all
    select family, parameter, cast(value as {{ dbt.type_string() }}) from segment_settings
    union all
    select
        'engagement', 'weight_' || event_type, cast(weight as {{ dbt.type_string() }})
    from event_weights
),

derived as (
    select
        as_of_date,
        'value_tier' as family,
        'vip_cutoff_net_revenue' as parameter,
        cast(min(vip_cutoff_net_revenue) as {{ dbt.type_string() }}) as value
    from value_tiers
    group by as_of_date
),

final as (
    select run_dates.as_of_date, configured.family, configured.parameter, configured.value, false as is_derived
    from run_dates
    cross join configured
    union all
    select as_of_date, family, parameter, value, true
    from derived
)

select * from final
