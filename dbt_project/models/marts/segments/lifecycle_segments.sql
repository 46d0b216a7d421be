{{ config(materialized='view') }}
{#-
    One row per customer per as-of date of the run: the customer's lifecycle status. The rules
    (thresholds in seed segment_settings, family lifecycle) are checked in this fixed order and
    the first that matches wins, so every customer gets exactly one status:

      1 prospect     no purchase on or before the as-of date
      2 reactivated  a purchase within reactivated_max_days (30) that came after a gap of
                     reactivated_min_gap_days (180) or more
      3 new          first purchase within new_max_days (30)
      4 active       active_min_orders (2) or more orders, the last within active_max_days (90)
      5 lapsing      last purchase within lapsing_max_days (365): 91-365 days ago, and also the
                     one-time buyers 31-90 days ago whom the published rules leave unassigned
      6 former       last purchase longer ago

    "Within N days" means 0..N days before the as-of date: day 30 is new, day 31 is not.
-#}
with

facts as (
    select * from {{ ref('customer_facts') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

final as (
    select
        facts.customer_key,
        facts.as_of_date,
        {{ lifecycle_status() }} as lifecycle_status
    from facts
    cross join settings
)

select * from final
