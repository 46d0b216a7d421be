-- The seed rfm_segment_map assigns every (r_score, fm_score) cell of the 5 x 5 grid to exactly
-- one segment, and every segment it names is described in rfm_segment_descriptions.
-- A returned row is a cell that is missing, mapped more than once, outside 1-5, or mapped to an
-- unknown segment (problem says which).
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

descriptions as (
    select * from {{ ref('rfm_segment_descriptions') }}
),

scores as (
    select generated_number as score from ({{ dbt.generate_series(5) }}) as numbers
),

grid as (
    select r.score as r_score, fm.score as fm_score
    from scores as r
    cross join scores as fm
),

mapped_cells as (
    select r_score, fm_score, count(*) as mappings
    from segment_map
    group by r_score, fm_score
),

problems as (
    select grid.r_score, grid.fm_score, 'cell not mapped' as problem
    from grid
    left join mapped_cells
        on grid.r_score = mapped_cells.r_score and grid.fm_score = mapped_cells.fm_score
    where mapped_cells.r_score is null

    union all

    select r_score, fm_score, 'cell mapped ' || cast(mappings as {{ dbt.type_string() }}) || ' times'
    from mapped_cells
    where mappings > 1

    union all

    select r_score, fm_score, 'cell outside the 5 x 5 grid'
    from mapped_cells
    where r_score not between 1 and 5 or fm_score not between 1 and 5

    union all

    select segment_map.r_score, segment_map.fm_score, 'unknown segment ' || segment_map.rfm_segment
    from segment_map
    left join descriptions
        on segment_map.rfm_segment = descriptions.rfm_segment
    where descriptions.rfm_segment is null
)

select * from problems
