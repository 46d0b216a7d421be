{#-
    Exactly one row: every segment threshold as a typed column `<family>_<parameter>`, pivoted
    from the seeds rfm_settings and segment_settings (macros/segment_settings.sql lists them).
    A missing parameter or a value of the wrong type is null here and fails a NOT NULL constraint
    that names the column, so a bad edit to a seed stops the run instead of skewing segments.
-#}
with

rfm_settings as (
    select * from {{ ref('rfm_settings') }}
),

segment_settings as (
    select * from {{ ref('segment_settings') }}
),

settings as (
    select 'rfm' as family, parameter, value from rfm_settings
    union all
    select family, parameter, value from segment_settings
),

final as (
    select
        {%- for family, parameter, data_type in segment_setting_parameters() %}
        {{ dbt.safe_cast(
            "max(case when family = '" ~ family ~ "' and parameter = '" ~ parameter ~ "' then trim(value) end)",
            data_type
        ) }} as {{ family }}_{{ parameter }}{{ "," if not loop.last }}
        {%- endfor %}
    from settings
)

select * from final
