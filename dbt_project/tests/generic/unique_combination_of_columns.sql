{#
    The combination of `combination_of_columns` is unique in the model (a composite key).
    A returned row is one combination that appears more than once, with how often.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
