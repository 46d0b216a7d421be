{# The median of a column; an aggregate that also works as a window function on DuckDB. #}
{% macro median(column) -%}
    {{ return(adapter.dispatch('median', 'segments')(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    median({{ column }})
{%- endmacro %}


{#
    The value of `value` on the row with the greatest `order_by`, as an aggregate (one hash
    aggregation instead of a sort + row_number). Ties on `order_by` pick any of the tied rows,
    so pass a unique ordering where that matters.
#}
{% macro last_by(value, order_by) -%}
    {{ return(adapter.dispatch('last_by', 'segments')(value, order_by)) }}
{%- endmacro %}

{% macro default__last_by(value, order_by) -%}
    max_by({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro duckdb__last_by(value, order_by) -%}
    arg_max({{ value }}, {{ order_by }})
{%- endmacro %}


{# The value of `value` on the row with the smallest `order_by` (see last_by). #}
{% macro first_by(value, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'segments')(value, order_by)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by) -%}
    min_by({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro duckdb__first_by(value, order_by) -%}
    arg_min({{ value }}, {{ order_by }})
{%- endmacro %}


{# The median of a list column (DuckDB list_aggregate; null for an empty or null list). #}
{% macro list_median(list_expression) -%}
    list_aggregate({{ list_expression }}, 'median')
{%- endmacro %}
