{#
    Use a model's custom schema name as-is (`staging`, `intermediate`, `marts`, `seeds`) instead
    of dbt's default `<target schema>_<custom>`: the build database is the pipeline's own file,
    and the publish step and BI tools address tables as `marts.customer_segments`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
