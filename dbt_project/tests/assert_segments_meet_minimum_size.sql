{{ config(severity='warn') }}
-- Segments large enough to act on (seed 002's over-segmentation risk): on the latest as-of
-- date of the run, every labelled segment has at least profiles.min_segment_share of the
-- customers or profiles.min_segment_customers, whichever is larger (seed segment_settings).
-- A returned row is a segment below that size: a warning, not a failure — consider merging it
-- or remapping cells (rfm_segment_map).
with

profiles as (
    select * from {{ ref('segment_profiles') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
)

select
    profiles.as_of_date,
    profiles.segment_family,
    profiles.segment,
    profiles.customers,
    profiles.customer_share
from profiles
where profiles.as_of_date = (select max(as_of_date) from run_dates)
  and profiles.segment is not null
  and profiles.is_below_minimum_size
