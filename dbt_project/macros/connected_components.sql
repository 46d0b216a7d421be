{#
    The smallest node rank reachable from each node: (node_rank, label) for every node of
    `nodes` (a relation with node_rank), over directed `edges` (from_rank, to_rank; give both
    directions for an undirected graph). Rows of one connected component share one label.
#}
{% macro connected_component_labels(nodes, edges) -%}
    {{ return(adapter.dispatch('connected_component_labels', 'segments')(nodes, edges)) }}
{%- endmacro %}


{#
    DuckDB: a recursive CTE with USING KEY holds one label per node; each pass propagates only
    the labels that improved in the previous pass, and the recursion stops when none did.
#}
{% macro duckdb__connected_component_labels(nodes, edges) -%}
    with recursive propagated (node_rank, label) using key (node_rank) as (
        select node_rank, node_rank as label
        from {{ nodes }}

        union

        select
            {{ edges }}.to_rank as node_rank,
            min(propagated.label) as label
        from propagated
        inner join {{ edges }}
            on {{ edges }}.from_rank = propagated.node_rank
        inner join recurring.propagated as current_labels
            on current_labels.node_rank = {{ edges }}.to_rank
        group by {{ edges }}.to_rank
        having min(propagated.label) < min(current_labels.label)
    )

    select node_rank, label from propagated
{%- endmacro %}


{#
    Portable fallback: a fixed number of min-label propagation rounds (var
    identity_propagation_rounds); enough when no chain of linked identifiers is longer.
#}
{% macro default__connected_component_labels(nodes, edges) -%}
    {%- set rounds = var('identity_propagation_rounds', 12) | int -%}
    with
    labels_0 as (
        select node_rank, node_rank as label from {{ nodes }}
    ),
    {%- for round in range(1, rounds + 1) %}
    labels_{{ round }} as (
        select node_rank, min(label) as label
        from (
            select node_rank, label from labels_{{ round - 1 }}
            union all
            select {{ edges }}.to_rank, labels_{{ round - 1 }}.label
            from {{ edges }}
            inner join labels_{{ round - 1 }}
                on {{ edges }}.from_rank = labels_{{ round - 1 }}.node_rank
        ) as candidates
        group by node_rank
    ){{ "," if not loop.last }}
    {%- endfor %}

    select node_rank, label from labels_{{ rounds }}
{%- endmacro %}
