{#-
    One row per customer with a purchase in the RFM lookback window, per as-of date of the run:
    recency, frequency and monetary values and their scores 1-5 (5 = most recent / most frequent
    / highest net revenue).

    Quintile scoring (the default): score = 1 + floor(5 * (rank - 1) / customers), where rank()
    orders the customers by the value (recency descending, so the most recent rank highest).
    Tied values share a rank, hence a score, and the result never depends on row order (unlike a
    bare NTILE). A large tie can skip scores: when most customers bought once, frequency jumps
    from 1 to 4; switch that dimension to fixed thresholds (seed rfm_settings) if that matters.

    Fixed scoring: the score of the rfm_fixed_thresholds row with the greatest min_value not
    above the value (a null min_value is the open-ended first range).

    fm_score = (f_score + m_score + 1) // 2, the mean of F and M rounded half up.
-#}
{{ config(materialized='as_of_table') }}
with

rfm_values as (
    select * from {{ ref('int_rfm_values') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

fixed_thresholds as (
    select * from {{ ref('rfm_fixed_thresholds') }}
),

thresholds as (
    -- one row: the lower bound of each fixed score per dimension
    select
        {%- for dimension in ['recency', 'frequency', 'monetary'] %}
        {%- for score in range(1, 6) %}
        max(case when dimension = '{{ dimension }}' and score = {{ score }} then min_value end)
            as {{ dimension }}_min_{{ score }}{{ "," if not (loop.last and dimension == 'monetary') }}
        {%- endfor %}
        {%- endfor %}
    from fixed_thresholds
),

ranked as (
    select
        *,
        count(*) over (partition by as_of_date) as scored_customers,
        rank() over (partition by as_of_date order by recency_days desc) as recency_rank,
        rank() over (partition by as_of_date order by frequency) as frequency_rank,
        rank() over (partition by as_of_date order by monetary) as monetary_rank
    from rfm_values
),

scored as (
    select
        ranked.*,
        settings.rfm_recency_scoring as recency_scoring,
        settings.rfm_frequency_scoring as frequency_scoring,
        settings.rfm_monetary_scoring as monetary_scoring,
        case
            when settings.rfm_recency_scoring = 'fixed' then
                case
                    when ranked.recency_days >= thresholds.recency_min_1 then 1
                    when ranked.recency_days >= thresholds.recency_min_2 then 2
                    when ranked.recency_days >= thresholds.recency_min_3 then 3
                    when ranked.recency_days >= thresholds.recency_min_4 then 4
                    else 5
                end
            else {{ quintile_score('ranked.recency_rank', 'ranked.scored_customers') }}
        end as r_score,
        {%- for dimension, letter in [('frequency', 'f'), ('monetary', 'm')] %}
        case
            when settings.rfm_{{ dimension }}_scoring = 'fixed' then
                case
                    when ranked.{{ dimension }} >= thresholds.{{ dimension }}_min_5 then 5
                    when ranked.{{ dimension }} >= thresholds.{{ dimension }}_min_4 then 4
                    when ranked.{{ dimension }} >= thresholds.{{ dimension }}_min_3 then 3
                    when ranked.{{ dimension }} >= thresholds.{{ dimension }}_min_2 then 2
                    else 1
                end
            else {{ quintile_score('ranked.' ~ dimension ~ '_rank', 'ranked.scored_customers') }}
        end as {{ letter }}_score{{ "," if not loop.last }}
        {%- endfor %}
    from ranked
    cross join settings
    cross join thresholds
),

final as (
    select
        -- keys
        customer_key,
        as_of_date,

        -- values
        recency_days,
        frequency,
        cast(monetary as decimal(18, 2)) as monetary,

        -- scores
        cast(r_score as integer) as r_score,
        cast(f_score as integer) as f_score,
        cast(m_score as integer) as m_score,
        cast(floor((f_score + m_score + 1) / 2.0) as integer) as fm_score,

        -- how they were scored
        lookback_days,
        recency_scoring,
        frequency_scoring,
        monetary_scoring,
        scored_customers
    from scored
)

select * from final
