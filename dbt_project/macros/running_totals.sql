{#
    Reading running totals "as of" a date. int_customer_*_days hold one row per customer per
    active day with totals up to that day; a model builds one lookup row per (customer, as-of
    date, lookup) with the date to look up, finds the last history row on or before it with one
    ASOF JOIN (one sort of the history however many windows are read), and pivots back:

      as_of_value('orders_to_date')               the total on the as-of date
      window_total('orders_to_date', 'before_30')  the total on the as-of date minus the total on
                                                   the lookup date before the window (0 if none)
#}
{% macro as_of_value(column, lookup='now') -%}
    max(case when lookup = '{{ lookup }}' then {{ column }} end)
{%- endmacro %}

{% macro window_total(column, lookup) -%}
    (
        coalesce({{ as_of_value(column) }}, 0)
        - coalesce({{ as_of_value(column, lookup) }}, 0)
    )
{%- endmacro %}
