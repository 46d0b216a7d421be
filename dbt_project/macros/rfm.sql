{#
    Quintile score 1-5 from a rank() among `population` customers: 1 + floor(5 * (rank - 1) / n).
    rank() gives tied values the same rank, so ties share a score whatever the row order.
#}
{% macro quintile_score(rank_column, population_column) -%}
    (1 + floor(5.0 * ({{ rank_column }} - 1) / {{ population_column }}))
{%- endmacro %}
