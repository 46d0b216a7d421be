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
    A key whose maximum picks the leader of a running count: the highest count, then the value
    that reached it first, then the value alphabetically. `leader_value(key)` extracts the value.
#}
{% macro leader_key(running_count, first_reached_date, value) -%}
    lpad(cast({{ running_count }} as {{ dbt.type_string() }}), 12, '0')
    || lpad(cast(99999 - {{ day_number(first_reached_date) }} as {{ dbt.type_string() }}), 5, '0')
    || {{ value }}
{%- endmacro %}

{% macro leader_value(key) -%}
    substr({{ key }}, 18)
{%- endmacro %}
