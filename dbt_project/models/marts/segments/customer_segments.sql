{#-
    One row per customer known on the latest as-of date in segment_snapshots (grain
    customer_key): the BI-facing table of every customer's current segments, read from that
    date's snapshot rows. The latest date of the whole history, not of the run: a backfill of
    past dates adds history but never moves the present back. RFM columns are null for customers without a purchase in the RFM
    lookback window (prospects, long-lost buyers); value tier and price sensitivity are null for
    prospects.
-#}
with

snapshots as (
    select * from {{ ref('segment_snapshots') }}
),

latest_as_of_date as (
    select max(as_of_date) as as_of_date from snapshots
),

final as (
    select
        -- keys
        snapshots.customer_key,
        snapshots.as_of_date,

        -- RFM
        snapshots.recency_days,
        snapshots.frequency,
        snapshots.monetary,
        snapshots.r_score,
        snapshots.f_score,
        snapshots.m_score,
        snapshots.fm_score,
        snapshots.rfm_segment,
        snapshots.previous_rfm_segment,
        snapshots.rfm_segment_changed_date,

        -- lifecycle and value
        snapshots.lifecycle_status,
        snapshots.value_tier,
        snapshots.is_near_threshold,

        -- behaviour
        snapshots.engagement_score,
        snapshots.engagement_band,
        snapshots.is_browser_not_buyer,
        snapshots.purchase_recency_window,
        snapshots.price_sensitivity,
        snapshots.preferred_channel,
        snapshots.preferred_category
    from snapshots
    inner join latest_as_of_date
        on snapshots.as_of_date = latest_as_of_date.as_of_date
)

select * from final
