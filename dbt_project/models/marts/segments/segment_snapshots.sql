{{
    config(
        materialized='as_of_incremental',
        unique_key='as_of_date',
        as_of_reads_own_rows={
            'customer_key': 'varchar',
            'as_of_date': 'date',
            'rfm_segment': 'varchar',
            'rfm_segment_changed_date': 'date',
        },
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

    One pass: every label comes from the customer's customer_facts row (the family rules of
    macros/segment_labels.sql, shared with the family models) and its rfm_segments row; the
    change dates are window functions over the customer's rows ordered by date (no self-join).
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

rfm as (
    select * from {{ ref('rfm_segments') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_incremental)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

facts_for_vip_cutoffs as (
    -- its own scan of the three columns the cut-off needs: DuckDB materialises a CTE read
    -- twice whole (every column of every customer and date), which cost a quarter of this
    -- model at 1M transactions
    select as_of_date, purchases_last_365_days, net_revenue_last_365_days
    from {{ ref('customer_facts') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

vip_cutoffs as (
    {{ vip_cutoffs('facts_for_vip_cutoffs') }}
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
        {{ lifecycle_status() }} as lifecycle_status,
        {{ value_tier('vip_cutoffs.vip_cutoff_net_revenue') }} as value_tier,
        {{ is_near_vip_threshold('vip_cutoffs.vip_cutoff_net_revenue') }} as is_near_threshold,
        {{ engagement_score() }} as engagement_score,
        {{ engagement_band(engagement_score()) }} as engagement_band,
        {{ is_browser_not_buyer() }} as is_browser_not_buyer,
        {{ purchase_recency_window() }} as purchase_recency_window,
        {{ price_sensitivity() }} as price_sensitivity,
        facts.preferred_channel,
        facts.preferred_category,
        false as is_from_earlier_run,
        cast(null as date) as earlier_rfm_segment_changed_date
    from facts
    cross join settings
    left join vip_cutoffs
        on facts.as_of_date = vip_cutoffs.as_of_date
    left join rfm
        on facts.customer_key = rfm.customer_key
        and facts.as_of_date = rfm.as_of_date
),

{#- as_of_incremental reads this table on every build (a first build: empty) -#}
{% if is_incremental() or config.get('materialized') == 'as_of_incremental' %}
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

{%- set label_columns = [
    'recency_days', 'frequency', 'monetary', 'r_score', 'f_score', 'm_score', 'fm_score',
    'lifecycle_status', 'value_tier', 'is_near_threshold', 'engagement_score', 'engagement_band',
    'is_browser_not_buyer', 'purchase_recency_window', 'price_sensitivity', 'preferred_channel',
    'preferred_category',
] %}

history as (
    -- the run's rows with every label, and the last earlier snapshot's rows (segment only)
    select
        customer_key,
        as_of_date,
        rfm_segment,
        is_from_earlier_run,
        earlier_rfm_segment_changed_date,
        {%- for column in label_columns %}
        {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from labels
    union all
    select
        customer_key,
        as_of_date,
        rfm_segment,
        true,
        rfm_segment_changed_date,
        {%- for column in label_columns %}
        null{{ "," if not loop.last }}
        {%- endfor %}
    from last_earlier_snapshot
),

with_previous as (
    -- the customer's previous row; it is the previous snapshot's when its date is that date
    select
        history.*,
        ordered_dates.previous_as_of_date,
        lag(history.as_of_date) over by_customer as customer_previous_as_of_date,
        lag(history.rfm_segment) over by_customer as customer_previous_rfm_segment
    from history
    inner join ordered_dates
        on history.as_of_date = ordered_dates.as_of_date
    window by_customer as (partition by history.customer_key order by history.as_of_date)
),

change_dates as (
    select
        with_previous.*,
        case
            when with_previous.customer_previous_as_of_date = with_previous.previous_as_of_date
                then with_previous.customer_previous_rfm_segment
        end as previous_rfm_segment,
        max(
            case
                when with_previous.is_from_earlier_run then with_previous.earlier_rfm_segment_changed_date
                when not coalesce(
                        with_previous.customer_previous_as_of_date = with_previous.previous_as_of_date, false
                    )
                    or with_previous.rfm_segment is distinct from with_previous.customer_previous_rfm_segment
                    then with_previous.as_of_date
            end
        ) over (
            partition by with_previous.customer_key order by with_previous.as_of_date
            rows between unbounded preceding and current row
        ) as rfm_segment_changed_date
    from with_previous
),

final as (
    select
        customer_key,
        as_of_date,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        fm_score,
        rfm_segment,
        previous_rfm_segment,
        rfm_segment_changed_date,
        lifecycle_status,
        value_tier,
        is_near_threshold,
        engagement_score,
        engagement_band,
        is_browser_not_buyer,
        purchase_recency_window,
        price_sensitivity,
        preferred_channel,
        preferred_category
    from change_dates
    where not is_from_earlier_run
)

select * from final
