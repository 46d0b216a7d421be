{{ config(materialized='view') }}
{#-
    One row per customer per as-of date of the run: value tier and whether the customer sits on
    the VIP border. Thresholds in seed segment_settings (family value_tier). In this order:

      difficult  problem signals in the last 365 days: refunded / gross >= 30%, or 1+ disputed
                 transactions (chargebacks), or 3+ support complaints — checked first
      vip        net revenue in the last 365 days >= the VIP cut-off
      regular    every other customer with a purchase
      (null)     customers without a purchase (prospects) have no tier

    VIP cut-off: among customers who bought in the last 365 days with positive net revenue in
    them, the net revenue of the customer at position ceil(10% × n) from the top. Everyone at or
    above it is VIP, so ties at the cut-off are all VIP and row order never matters.
    is_near_threshold: net revenue within 10% of the cut-off on either side (buying customers
    only) — the border customers who may move between regular and VIP.
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

facts_for_vip_cutoffs as (
    -- its own scan of the columns the cut-off needs: a CTE read twice is materialised whole
    select as_of_date, purchases_last_365_days, net_revenue_last_365_days
    from {{ ref('customer_facts') }}
),

vip_cutoffs as (
    {{ vip_cutoffs('facts_for_vip_cutoffs') }}
),

final as (
    select
        facts.customer_key,
        facts.as_of_date,
        {{ value_tier('vip_cutoffs.vip_cutoff_net_revenue') }} as value_tier,
        {{ is_near_vip_threshold('vip_cutoffs.vip_cutoff_net_revenue') }} as is_near_threshold,
        {{ difficult_reason() }} as difficult_reason,
        facts.net_revenue_last_365_days,
        vip_cutoffs.vip_cutoff_net_revenue
    from facts
    cross join settings
    left join vip_cutoffs
        on facts.as_of_date = vip_cutoffs.as_of_date
)

select * from final
