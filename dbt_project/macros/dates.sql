{# A date N days before `date_expression`, as a DATE (dbt.dateadd returns a timestamp on some engines). #}
{% macro days_before(date_expression, days) -%}
    cast({{ dbt.dateadd('day', '-1 * (' ~ days ~ ')', date_expression) }} as date)
{%- endmacro %}


{# Whole days from `start_date` to `end_date` (positive when end is later). #}
{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}


{# Days since 1970-01-01: a sortable, subtractable day number. #}
{% macro day_number(date_expression) -%}
    {{ dbt.datediff("cast('1970-01-01' as date)", date_expression, 'day') }}
{%- endmacro %}


{# Age in completed years on `on_date` (a birthday not yet reached this year does not count). #}
{% macro age_in_years(birth_date, on_date) -%}
    (
        extract(year from {{ on_date }}) - extract(year from {{ birth_date }})
        - case
            when extract(month from {{ on_date }}) * 100 + extract(day from {{ on_date }})
                < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
            then 1 else 0
        end
    )
{%- endmacro %}


{#
    The rank of a value in a running count, for first_by()/min(): the highest count ranks first,
    then the value that reached it first, then the value alphabetically, so the leader never
    depends on row order. A struct compares field by field (DuckDB struct literal; named_struct elsewhere).
#}
{% macro leader_rank(running_count, reached_date, value) -%}
    {{ return(adapter.dispatch('leader_rank', 'segments')(running_count, reached_date, value)) }}
{%- endmacro %}

{% macro default__leader_rank(running_count, reached_date, value) -%}
    named_struct('orders', -{{ running_count }}, 'reached_on', {{ reached_date }}, 'value', {{ value }})
{%- endmacro %}

{% macro duckdb__leader_rank(running_count, reached_date, value) -%}
    {'orders': -{{ running_count }}, 'reached_on': {{ reached_date }}, 'value': {{ value }}}
{%- endmacro %}
