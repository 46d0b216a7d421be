{{ config(materialized='view') }}
{#-
    One row per customer per as-of date of the run: behavioural labels (thresholds in seed
    segment_settings, families behaviour and engagement):

    - engagement_score 0-100: recency-weighted engagement points of the last 90 days
      (customer_facts.engagement_points_last_90_days: each event's type weight from seed
      engagement_event_weights × (1 − days ago / 91)), scaled so that full_score_points
      points = 100, capped at 100, rounded.
    - engagement_band: unknown without any engagement event to date (no data: no events
      source, or never seen in it); else highly_engaged >= 70, engaged >= 40, low >= 1,
      else dormant.
    - is_browser_not_buyer: browser_min_sessions (3) or more sessions in the last 30 days and
      no purchase in them.
    - purchase_recency_window: '0-30 days', '31-180 days', '181-365 days', 'over 365 days'
      since the last purchase (labels follow the configured bounds), 'never' for prospects.
    - price_sensitivity: bargain_hunter when discount_share >= 50%, else full_price_buyer
      (null without orders); unknown when no order comes from a source that carries discount
      data (discount_share counts only orders from Shopify and Stripe).
    - preferred_channel / preferred_category: from customer_facts.
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

scored as (
    select
        facts.*,
        {{ engagement_score() }} as engagement_score
    from facts
    cross join settings
),

final as (
    select
        scored.customer_key,
        scored.as_of_date,
        scored.engagement_score,
        {{ engagement_band('scored.engagement_score', facts='scored') }} as engagement_band,
        {{ is_browser_not_buyer('scored') }} as is_browser_not_buyer,
        {{ purchase_recency_window('scored') }} as purchase_recency_window,
        {{ price_sensitivity('scored') }} as price_sensitivity,
        scored.preferred_channel,
        scored.preferred_category
    from scored
    cross join settings
)

select * from final
