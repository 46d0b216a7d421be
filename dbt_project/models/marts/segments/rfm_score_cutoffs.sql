{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns'
    )
}}
{#-
    One row per as-of date, RFM dimension and score: the lowest and highest value that got the
    score and how many customers did. The record of the cut-offs each run used, kept across runs
    (incremental: a run replaces only its own as-of dates). Scores nobody got have no row.
-#}
with

scores as (
    select * from {{ ref('rfm_scores') }}
),

by_dimension as (
    select as_of_date, 'recency' as dimension, r_score as score, cast(recency_days as decimal(18, 2)) as value,
        recency_scoring as scoring_method, lookback_days
    from scores
    union all
    select as_of_date, 'frequency', f_score, cast(frequency as decimal(18, 2)), frequency_scoring, lookback_days
    from scores
    union all
    select as_of_date, 'monetary', m_score, monetary, monetary_scoring, lookback_days
    from scores
),

final as (
    select
        as_of_date,
        dimension,
        score,
        min(value) as min_value,
        max(value) as max_value,
        count(*) as customers,
        min(scoring_method) as scoring_method,
        min(lookback_days) as lookback_days
    from by_dimension
    group by as_of_date, dimension, score
)

select * from final
