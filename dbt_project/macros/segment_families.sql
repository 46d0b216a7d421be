{#
    The segment families of segment_snapshots that transitions and profiles report on:
    one label column each.
#}
{% macro segment_families() %}
    {{ return([
        'rfm_segment', 'lifecycle_status', 'value_tier', 'engagement_band',
        'purchase_recency_window', 'price_sensitivity',
    ]) }}
{% endmacro %}


{#
    Aggregating every family's segments in one pass: `group by {{ family_grouping_sets() }}`
    has one grouping set (as_of_date, <family>, *extra) per family, and in the select list
    family_of_set() / segment_of_set() name the family and segment of each result row (the
    family is the one label column grouped in that set). No unpivoted copy of the members.
#}
{% macro family_grouping_sets(extra=[]) -%}
    grouping sets (
        {%- for family in segment_families() %}
        (as_of_date, {{ family }}{% for column in extra %}, {{ column }}{% endfor %}){{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro family_of_set() -%}
    case
        {%- for family in segment_families() %}
        when grouping({{ family }}) = 0 then '{{ family }}'
        {%- endfor %}
    end
{%- endmacro %}

{% macro segment_of_set() -%}
    case
        {%- for family in segment_families() %}
        when grouping({{ family }}) = 0 then cast({{ family }} as {{ dbt.type_string() }})
        {%- endfor %}
    end
{%- endmacro %}
