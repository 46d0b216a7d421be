{{ config(materialized='view') }}
{#-
    One row per scored customer per as-of date of the run: the RFM segment of the customer's
    (r_score, fm_score) cell, from the seed rfm_segment_map (Putler's eleven segments, every one
    of the 25 cells mapped exactly once), with the segment's description and suggested action.
-#}
with

scores as (
    select * from {{ ref('rfm_scores') }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

segment_descriptions as (
    select * from {{ ref('rfm_segment_descriptions') }}
),

final as (
    select
        scores.customer_key,
        scores.as_of_date,
        scores.recency_days,
        scores.frequency,
        scores.monetary,
        scores.r_score,
        scores.f_score,
        scores.m_score,
        scores.fm_score,
        segment_map.rfm_segment,
        segment_descriptions.segment_order as rfm_segment_order,
        segment_descriptions.description as rfm_segment_description,
        segment_descriptions.suggested_action as rfm_suggested_action
    from scores
    inner join segment_map
        on scores.r_score = segment_map.r_score
        and scores.fm_score = segment_map.fm_score
    inner join segment_descriptions
        on segment_map.rfm_segment = segment_descriptions.rfm_segment
)

select * from final
