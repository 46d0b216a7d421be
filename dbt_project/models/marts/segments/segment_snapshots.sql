{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns'
    )
}}
{#-
    One row per customer per as-of date (grain customer_key + as_of_date): every segment label
    the customer had on that date. Incremental: a run replaces the rows of its own as-of dates
    and keeps every earlier date, so this is the history BI uses for "segment over time" and
    segment_transitions counts movements from.

    previous_rfm_segment is the customer's RFM segment on the previous snapshot date (the
    latest earlier as_of_date in this table; null if absent or unscored then);
    rfm_segment_changed_date is the first snapshot date of the customer's current run of that
    segment. Both continue from the last snapshot before the run, so re-running an old date
    does not rewrite the change dates of later snapshots: re-run forward from it to refresh.
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

rfm as (
    select * from {{ ref('rfm_segments') }}
),

lifecycle as (
    select * from {{ ref('lifecycle_segments') }}
),

value_tiers as (
    select * from {{ ref('value_tier_segments') }}
),

behaviour as (
    select * from {{ ref('behavioural_segments') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

labels as (
    select
        facts.customer_key,
        facts.as_of_date,
        rfm.recency_days,
        rfm.frequency,
        rfm.monetary,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.fm_score,
        rfm.rfm_segment,
        lifecycle.lifecycle_status,
        value_tiers.value_tier,
        value_tiers.is_near_threshold,
        behaviour.engagement_score,
        behaviour.engagement_band,
        behaviour.is_browser_not_buyer,
        behaviour.purchase_recency_window,
        behaviour.price_sensitivity,
        behaviour.preferred_channel,
        behaviour.preferred_category
    from facts
    left join rfm
        on facts.customer_key = rfm.customer_key and facts.as_of_date = rfm.as_of_date
    inner join lifecycle
        on facts.customer_key = lifecycle.customer_key and facts.as_of_date = lifecycle.as_of_date
    inner join value_tiers
        on facts.customer_key = value_tiers.customer_key and facts.as_of_date = value_tiers.as_of_date
    inner join behaviour
        on facts.customer_key = behaviour.customer_key and facts.as_of_date = behaviour.as_of_date
),

{% if is_incremental() %}
last_earlier_snapshot as (
    -- the latest snapshot before this run's first as-of date, to continue the change dates from
    select
        earlier.customer_key,
        earlier.as_of_date,
        earlier.rfm_segment,
        earlier.rfm_segment_changed_date
    from {{ this }} as earlier
    where earlier.as_of_date = (
        select max(as_of_date) from {{ this }}
        where as_of_date < (select min(as_of_date) from run_dates)
    )
),
{% else %}
last_earlier_snapshot as (
    select
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as date) as as_of_date,
        cast(null as {{ dbt.type_string() }}) as rfm_segment,
        cast(null as date) as rfm_segment_changed_date
    where false
),
{% endif %}

snapshot_dates as (
    select as_of_date from run_dates
    union
    select distinct as_of_date from last_earlier_snapshot
),

ordered_dates as (
    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date
    from snapshot_dates
),

history as (
    select
        customer_key,
        as_of_date,
        rfm_segment,
        false as is_from_earlier_run,
        cast(null as date) as earlier_rfm_segment_changed_date
    from labels
    union all
    select
        customer_key,
        as_of_date,
        rfm_segment,
        true,
        rfm_segment_changed_date
    from last_earlier_snapshot
),

with_previous as (
    select
        history.*,
        previous.rfm_segment as previous_rfm_segment,
        previous.customer_key is not null as was_in_previous_snapshot
    from history
    inner join ordered_dates
        on history.as_of_date = ordered_dates.as_of_date
    left join history as previous
        on history.customer_key = previous.customer_key
        and previous.as_of_date = ordered_dates.previous_as_of_date
),

change_dates as (
    select
        customer_key,
        as_of_date,
        previous_rfm_segment,
        max(
            case
                when is_from_earlier_run then earlier_rfm_segment_changed_date
                when not was_in_previous_snapshot
                    or rfm_segment is distinct from previous_rfm_segment then as_of_date
            end
        ) over (
            partition by customer_key order by as_of_date
            rows between unbounded preceding and current row
        ) as rfm_segment_changed_date,
        is_from_earlier_run
    from with_previous
),

final as (
    select
        labels.customer_key,
        labels.as_of_date,
        labels.recency_days,
        labels.frequency,
        labels.monetary,
        labels.r_score,
        labels.f_score,
        labels.m_score,
        labels.fm_score,
        labels.rfm_segment,
        change_dates.previous_rfm_segment,
        change_dates.rfm_segment_changed_date,
        labels.lifecycle_status,
        labels.value_tier,
        labels.is_near_threshold,
        labels.engagement_score,
        labels.engagement_band,
        labels.is_browser_not_buyer,
        labels.purchase_recency_window,
        labels.price_sensitivity,
        labels.preferred_channel,
        labels.preferred_category
    from labels
    inner join change_dates
        on labels.customer_key = change_dates.customer_key
        and labels.as_of_date = change_dates.as_of_date
        and not change_dates.is_from_earlier_run
)

select * from final
