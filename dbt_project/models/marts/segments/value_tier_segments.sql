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

vip_candidates as (
    select
        facts.as_of_date,
        facts.net_revenue_last_365_days,
        row_number() over (
            partition by facts.as_of_date order by facts.net_revenue_last_365_days desc
        ) as position_from_top,
        count(*) over (partition by facts.as_of_date) as candidates
    from facts
    where facts.purchases_last_365_days > 0
      and facts.net_revenue_last_365_days > 0
),

vip_cutoffs as (
    select
        vip_candidates.as_of_date,
        min(vip_candidates.net_revenue_last_365_days) as vip_cutoff_net_revenue,
        min(vip_candidates.candidates) as vip_candidates
    from vip_candidates
    cross join settings
    where vip_candidates.position_from_top
        <= ceil(settings.value_tier_vip_top_share * vip_candidates.candidates)
    group by vip_candidates.as_of_date
),

signals as (
    select
        facts.customer_key,
        facts.as_of_date,
        facts.orders_count,
        facts.net_revenue_last_365_days,
        vip_cutoffs.vip_cutoff_net_revenue,
        facts.refund_rate_last_365_days >= settings.value_tier_difficult_min_refund_rate as has_high_refund_rate,
        facts.disputes_last_365_days >= settings.value_tier_difficult_min_disputes as has_disputes,
        facts.support_complaints_last_365_days >= settings.value_tier_difficult_min_complaints
            as has_many_complaints,
        settings.value_tier_near_threshold_share as near_threshold_share
    from facts
    cross join settings
    left join vip_cutoffs
        on facts.as_of_date = vip_cutoffs.as_of_date
),

final as (
    select
        customer_key,
        as_of_date,
        case
            when orders_count = 0 then null
            when coalesce(has_high_refund_rate, false) or has_disputes or has_many_complaints then 'difficult'
            when net_revenue_last_365_days >= vip_cutoff_net_revenue then 'vip'
            else 'regular'
        end as value_tier,
        coalesce(
            orders_count > 0
            and abs(net_revenue_last_365_days - vip_cutoff_net_revenue)
                <= near_threshold_share * vip_cutoff_net_revenue,
            false
        ) as is_near_threshold,
        case
            when orders_count = 0 then null
            when has_high_refund_rate then 'refund rate'
            when has_disputes then 'disputes'
            when has_many_complaints then 'complaints'
        end as difficult_reason,
        net_revenue_last_365_days,
        vip_cutoff_net_revenue
    from signals
)

select * from final
