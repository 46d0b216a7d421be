-- Seed rfm_fixed_thresholds: each dimension has scores 1-5 once, exactly one open-ended first
-- range (min_value null), and min_value grows with the score for frequency and monetary and
-- falls with it for recency (fewer days is better). A returned row is a dimension/score that
-- breaks this, with the problem.
with

thresholds as (
    select * from {{ ref('rfm_fixed_thresholds') }}
),

ordered as (
    select
        *,
        count(*) over (partition by dimension) as scores_in_dimension,
        count(*) over (partition by dimension, score) as rows_for_score,
        count(case when min_value is null then 1 end) over (partition by dimension) as open_ranges,
        lag(min_value) over (
            partition by dimension
            order by case when dimension = 'recency' then -score else score end
        ) as previous_min_value
    from thresholds
),

problems as (
    select dimension, score, 'expected scores 1-5 once each' as problem
    from ordered
    where scores_in_dimension <> 5 or rows_for_score <> 1 or score not between 1 and 5
    union all
    select dimension, score, 'expected exactly one open-ended range (empty min_value)'
    from ordered
    where open_ranges <> 1
    union all
    select dimension, score, 'min_value must grow from the worst score to the best'
    from ordered
    where previous_min_value is not null and min_value <= previous_min_value
    union all
    select dimension, score, 'unknown dimension'
    from ordered
    where dimension not in ('recency', 'frequency', 'monetary')
)

select * from problems
