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


{#
    The values of `value` of a group as an array in `order_by` order (an aggregate).
    DuckDB: list(... order by ...); the default is Spark SQL's collect_list over structs.
#}
{% macro ordered_list(value, order_by) -%}
    {{ return(adapter.dispatch('ordered_list', 'segments')(value, order_by)) }}
{%- endmacro %}

{% macro default__ordered_list(value, order_by) -%}
    transform(array_sort(collect_list(struct({{ order_by }} as sort_key, {{ value }} as item))), x -> x.item)
{%- endmacro %}

{% macro duckdb__ordered_list(value, order_by) -%}
    list({{ value }} order by {{ order_by }})
{%- endmacro %}


{#
    The median of the first `count` elements of an array (null for none): used for the
    median gap between purchase days up to an as-of date, from one array per customer.
#}
{% macro median_of_first(list_expression, count) -%}
    {{ return(adapter.dispatch('median_of_first', 'segments')(list_expression, count)) }}
{%- endmacro %}

{% macro default__median_of_first(list_expression, count) -%}
    (
        element_at(array_sort(slice({{ list_expression }}, 1, {{ count }})), cast(floor(({{ count }} + 1) / 2.0) as int))
        + element_at(array_sort(slice({{ list_expression }}, 1, {{ count }})), cast(ceil(({{ count }} + 1) / 2.0) as int))
    ) / 2.0
{%- endmacro %}

{% macro duckdb__median_of_first(list_expression, count) -%}
    list_aggregate(list_slice({{ list_expression }}, 1, {{ count }}), 'median')
{%- endmacro %}
