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
