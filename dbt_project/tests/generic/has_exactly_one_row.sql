{#
    The model has exactly one row (a settings table). A returned row carries the row count
    found instead.
#}
{% test has_exactly_one_row(model) %}

select count(*) as rows_found
from {{ model }}
having count(*) <> 1

{% endtest %}
