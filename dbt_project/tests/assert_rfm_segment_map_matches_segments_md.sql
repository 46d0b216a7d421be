-- The shipped seed rfm_segment_map is exactly the default table of docs SEGMENTS.md
-- ("RFM segments (Putler's eleven)"). A returned row is a cell whose segment differs from the
-- documented one (seed_segment null: cell missing from the seed). Remapping cells on purpose?
-- Update this test and the docs together.
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

documented (r_score, fm_score, rfm_segment) as (
    values
        (5, 1, 'New Customers'), (5, 2, 'Potential Loyalist'), (5, 3, 'Potential Loyalist'),
        (5, 4, 'Champions'), (5, 5, 'Champions'),
        (4, 1, 'Promising'), (4, 2, 'Potential Loyalist'), (4, 3, 'Loyal Customers'),
        (4, 4, 'Champions'), (4, 5, 'Champions'),
        (3, 1, 'Promising'), (3, 2, 'About To Sleep'), (3, 3, 'Need Attention'),
        (3, 4, 'Loyal Customers'), (3, 5, 'Loyal Customers'),
        (2, 1, 'Hibernating'), (2, 2, 'Hibernating'), (2, 3, 'At Risk'),
        (2, 4, 'At Risk'), (2, 5, 'At Risk'),
        (1, 1, 'Lost'), (1, 2, 'Lost'), (1, 3, 'At Risk'),
        (1, 4, 'Can''t Lose Them'), (1, 5, 'Can''t Lose Them')
),

differences as (
    select
        documented.r_score,
        documented.fm_score,
        documented.rfm_segment as documented_segment,
        segment_map.rfm_segment as seed_segment
    from documented
    left join segment_map
        on documented.r_score = segment_map.r_score
        and documented.fm_score = segment_map.fm_score
    where segment_map.rfm_segment is distinct from documented.rfm_segment
)

select * from differences
