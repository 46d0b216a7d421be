{#-
    One row per customer known on the latest as-of date of the run: the BI-facing table of each
    customer's current segments. RFM columns are null for customers without a purchase in the
    RFM lookback window (prospects and long-lost buyers).
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

rfm as (
    select * from {{ ref('rfm_segments') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

latest_as_of_date as (
    select max(as_of_date) as as_of_date from run_dates
),

final as (
    select
        -- keys
        facts.customer_key,
        facts.as_of_date,

        -- RFM
        rfm.recency_days,
        rfm.frequency,
        rfm.monetary,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.fm_score,
        rfm.rfm_segment
    from facts
    inner join latest_as_of_date
        on facts.as_of_date = latest_as_of_date.as_of_date
    left join rfm
        on facts.customer_key = rfm.customer_key
        and facts.as_of_date = rfm.as_of_date
)

select * from final
