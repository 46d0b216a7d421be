{#
    Every segment threshold the models read, as (family, parameter, SQL type). The values live in
    the seeds rfm_settings (family 'rfm') and segment_settings; int_segment_settings pivots them
    into one typed row with a column `<family>_<parameter>` each, and its NOT NULL constraints fail
    when a seed lacks a parameter or holds a value of the wrong type.
#}
{% macro segment_setting_parameters() %}
    {{ return([
        ('rfm', 'lookback_days', 'integer'),
        ('rfm', 'recency_scoring', dbt.type_string()),
        ('rfm', 'frequency_scoring', dbt.type_string()),
        ('rfm', 'monetary_scoring', dbt.type_string()),
        ('lifecycle', 'new_max_days', 'integer'),
        ('lifecycle', 'reactivated_max_days', 'integer'),
        ('lifecycle', 'reactivated_min_gap_days', 'integer'),
        ('lifecycle', 'active_min_orders', 'integer'),
        ('lifecycle', 'active_max_days', 'integer'),
        ('lifecycle', 'lapsing_max_days', 'integer'),
        ('value_tier', 'vip_top_share', 'decimal(9, 4)'),
        ('value_tier', 'near_threshold_share', 'decimal(9, 4)'),
        ('value_tier', 'difficult_min_refund_rate', 'decimal(9, 4)'),
        ('value_tier', 'difficult_min_disputes', 'integer'),
        ('value_tier', 'difficult_min_complaints', 'integer'),
        ('behaviour', 'browser_min_sessions', 'integer'),
        ('behaviour', 'bargain_hunter_min_discount_share', 'decimal(9, 4)'),
        ('behaviour', 'recency_window_1_max_days', 'integer'),
        ('behaviour', 'recency_window_2_max_days', 'integer'),
        ('behaviour', 'recency_window_3_max_days', 'integer'),
        ('engagement', 'full_score_points', 'decimal(9, 4)'),
        ('engagement', 'highly_engaged_min_score', 'integer'),
        ('engagement', 'engaged_min_score', 'integer'),
        ('engagement', 'low_min_score', 'integer'),
        ('profiles', 'min_segment_share', 'decimal(9, 4)'),
        ('profiles', 'min_segment_customers', 'integer'),
        ('fx', 'max_rate_age_days', 'integer'),
        ('fx', 'max_days_before_first_rate', 'integer'),
        ('fx', 'max_daily_change_share', 'decimal(9, 4)'),
        ('clv', 'holdout_days', 'integer'),
        ('clv', 'holdout_max_customers', 'integer'),
        ('clv', 'annual_discount_rate', 'decimal(9, 4)'),
        ('clv', 'high_tier_share', 'decimal(9, 4)'),
        ('clv', 'medium_tier_share', 'decimal(9, 4)'),
    ]) }}
{% endmacro %}
