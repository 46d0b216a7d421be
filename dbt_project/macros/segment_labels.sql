{#
    The label rules of the segment families, as expressions over one customer_facts row
    (`facts`: the relation alias) and the one-row settings (`settings`: int_segment_settings).

    One definition serves both the family models (lifecycle_segments, value_tier_segments,
    behavioural_segments: views for the run's dates) and segment_snapshots, which computes every
    label of a customer and date in one pass over customer_facts instead of joining the family
    tables (a five-way join of customers x dates that spilled ~13 GB at 10M transactions).
    The rules themselves are documented in the family models and docs/segments.md.
#}

{% macro lifecycle_status(facts='facts', settings='settings') -%}
    case
        when {{ facts }}.orders_count = 0 then 'prospect'
        when {{ days_between(facts ~ '.last_reactivation_date', facts ~ '.as_of_date') }}
            <= {{ settings }}.lifecycle_reactivated_max_days then 'reactivated'
        when {{ facts }}.tenure_days <= {{ settings }}.lifecycle_new_max_days then 'new'
        when {{ facts }}.orders_count >= {{ settings }}.lifecycle_active_min_orders
            and {{ facts }}.days_since_last_order <= {{ settings }}.lifecycle_active_max_days then 'active'
        when {{ facts }}.days_since_last_order <= {{ settings }}.lifecycle_lapsing_max_days then 'lapsing'
        else 'former'
    end
{%- endmacro %}


{#
    One row per as-of date of `facts_relation`: the VIP cut-off (net revenue of the last 365
    days of the customer at position ceil(top share x n) from the top, among the n customers
    who bought in the last 365 days with positive net revenue in them).
#}
{% macro vip_cutoffs(facts_relation, settings='settings') -%}
    select
        candidates.as_of_date,
        min(candidates.net_revenue_last_365_days) as vip_cutoff_net_revenue,
        min(candidates.candidates) as vip_candidates
    from (
        select
            as_of_date,
            net_revenue_last_365_days,
            row_number() over (partition by as_of_date order by net_revenue_last_365_days desc)
                as position_from_top,
            count(*) over (partition by as_of_date) as candidates
        from {{ facts_relation }}
        where purchases_last_365_days > 0
          and net_revenue_last_365_days > 0
    ) as candidates
    cross join {{ settings }}
    where candidates.position_from_top
        <= ceil({{ settings }}.value_tier_vip_top_share * candidates.candidates)
    group by candidates.as_of_date
{%- endmacro %}


{% macro has_high_refund_rate(facts='facts', settings='settings') -%}
    coalesce({{ facts }}.refund_rate_last_365_days >= {{ settings }}.value_tier_difficult_min_refund_rate, false)
{%- endmacro %}

{% macro has_disputes(facts='facts', settings='settings') -%}
    ({{ facts }}.disputes_last_365_days >= {{ settings }}.value_tier_difficult_min_disputes)
{%- endmacro %}

{% macro has_many_complaints(facts='facts', settings='settings') -%}
    ({{ facts }}.support_complaints_last_365_days >= {{ settings }}.value_tier_difficult_min_complaints)
{%- endmacro %}


{# `cutoff`: the date's vip_cutoff_net_revenue (null when nobody qualifies). #}
{% macro value_tier(cutoff, facts='facts', settings='settings') -%}
    case
        when {{ facts }}.orders_count = 0 then null
        when {{ has_high_refund_rate(facts, settings) }} or {{ has_disputes(facts, settings) }}
            or {{ has_many_complaints(facts, settings) }} then 'difficult'
        when {{ facts }}.net_revenue_last_365_days >= {{ cutoff }} then 'vip'
        else 'regular'
    end
{%- endmacro %}

{% macro is_near_vip_threshold(cutoff, facts='facts', settings='settings') -%}
    coalesce(
        {{ facts }}.orders_count > 0
        and abs({{ facts }}.net_revenue_last_365_days - {{ cutoff }})
            <= {{ settings }}.value_tier_near_threshold_share * {{ cutoff }},
        false
    )
{%- endmacro %}

{% macro difficult_reason(facts='facts', settings='settings') -%}
    case
        when {{ facts }}.orders_count = 0 then null
        when {{ has_high_refund_rate(facts, settings) }} then 'refund rate'
        when {{ has_disputes(facts, settings) }} then 'disputes'
        when {{ has_many_complaints(facts, settings) }} then 'complaints'
    end
{%- endmacro %}


{% macro engagement_score(facts='facts', settings='settings') -%}
    cast(least(
        100,
        round(100 * {{ facts }}.engagement_points_last_90_days / {{ settings }}.engagement_full_score_points)
    ) as integer)
{%- endmacro %}

{#
    `score`: an engagement_score expression or column. 'unknown' for a customer with no
    engagement event at all on or before the as-of date (no events source, or never seen in
    it): a score of 0 then means "no data", not "dormant".
#}
{% macro engagement_band(score, settings='settings', facts='facts') -%}
    case
        when {{ facts }}.last_engagement_date is null then 'unknown'
        when {{ score }} >= {{ settings }}.engagement_highly_engaged_min_score then 'highly_engaged'
        when {{ score }} >= {{ settings }}.engagement_engaged_min_score then 'engaged'
        when {{ score }} >= {{ settings }}.engagement_low_min_score then 'low'
        else 'dormant'
    end
{%- endmacro %}

{% macro is_browser_not_buyer(facts='facts', settings='settings') -%}
    ({{ facts }}.sessions_last_30_days >= {{ settings }}.behaviour_browser_min_sessions
        and {{ facts }}.purchases_last_30_days = 0)
{%- endmacro %}

{% macro purchase_recency_window(facts='facts', settings='settings') -%}
    {%- set string = dbt.type_string() -%}
    case
        when {{ facts }}.orders_count = 0 then 'never'
        when {{ facts }}.days_since_last_order <= {{ settings }}.behaviour_recency_window_1_max_days
            then '0-' || cast({{ settings }}.behaviour_recency_window_1_max_days as {{ string }}) || ' days'
        when {{ facts }}.days_since_last_order <= {{ settings }}.behaviour_recency_window_2_max_days
            then cast({{ settings }}.behaviour_recency_window_1_max_days + 1 as {{ string }})
                || '-' || cast({{ settings }}.behaviour_recency_window_2_max_days as {{ string }}) || ' days'
        when {{ facts }}.days_since_last_order <= {{ settings }}.behaviour_recency_window_3_max_days
            then cast({{ settings }}.behaviour_recency_window_2_max_days + 1 as {{ string }})
                || '-' || cast({{ settings }}.behaviour_recency_window_3_max_days as {{ string }}) || ' days'
        else 'over ' || cast({{ settings }}.behaviour_recency_window_3_max_days as {{ string }}) || ' days'
    end
{%- endmacro %}

{#
    null without a purchase; 'unknown' when none of the customer's orders comes from a source
    that carries discount data (PayPal, generic CSVs: int_transactions_unioned).
#}
{% macro price_sensitivity(facts='facts', settings='settings') -%}
    case
        when {{ facts }}.orders_count = 0 then null
        when {{ facts }}.orders_with_discount_data = 0 then 'unknown'
        when {{ facts }}.discount_share >= {{ settings }}.behaviour_bargain_hunter_min_discount_share then 'bargain_hunter'
        else 'full_price_buyer'
    end
{%- endmacro %}
