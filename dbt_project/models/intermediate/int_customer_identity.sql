{#-
    One row per identifier (email, phone, account id, guest record) with the customer it belongs
    to. Identifiers seen together on any record are one customer, transitively: the connected
    components of the graph int_identifiers_observed describes (Anna's two email spellings, her
    phone in the CRM and her loyalty card at the till are one person).

    Components are found by min-label propagation: every identifier starts with its own rank and
    takes the smallest rank among its neighbours, `identity_propagation_rounds` times (a var in
    dbt_project.yml); test assert_customer_identity_converged proves the rounds were enough.

    customer_key = hash of the component's anchor: its identifier seen first (earliest
    first_seen_at, ties broken alphabetically). It does not depend on load order, and data
    arriving later never changes it, except when it links two known customers: then the merged
    customer keeps the older anchor's key.
-#}
{%- set rounds = var('identity_propagation_rounds') | int %}

with

observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

nodes as (
    select
        identifier,
        min(alias_type) as alias_type,
        min(alias_value) as alias_value,
        min(first_seen_at) as first_seen_at
    from observed
    group by identifier
),

ranked_nodes as (
    -- Integer ranks make the propagation joins cheap; rank order is anchor preference.
    select
        *,
        row_number() over (order by first_seen_at, identifier) as node_rank
    from nodes
),

links as (
    -- every identifier of a record is linked to the record's identifier, both ways
    select record_identifier as from_identifier, identifier as to_identifier
    from observed
    where identifier <> record_identifier
    union
    select identifier, record_identifier
    from observed
    where identifier <> record_identifier
),

linked_edges as (
    select
        from_nodes.node_rank as from_rank,
        to_nodes.node_rank as to_rank
    from links
    inner join ranked_nodes as from_nodes on links.from_identifier = from_nodes.identifier
    inner join ranked_nodes as to_nodes on links.to_identifier = to_nodes.identifier
),

linked_nodes as (
    -- identifiers that share a record with another one; the rest (a lone email) are their own
    -- customer and skip the propagation
    select distinct from_rank as node_rank from linked_edges
),

edges as (
    select from_rank, to_rank from linked_edges
    union all
    select node_rank, node_rank from linked_nodes
),

labels_0 as (
    select node_rank, node_rank as label from linked_nodes
),
{% for round in range(1, rounds + 1) %}
labels_{{ round }} as (
    select
        edges.from_rank as node_rank,
        min(labels_{{ round - 1 }}.label) as label
    from edges
    inner join labels_{{ round - 1 }} on edges.to_rank = labels_{{ round - 1 }}.node_rank
    group by edges.from_rank
),
{% endfor %}

final as (
    select
        ranked_nodes.identifier,
        ranked_nodes.alias_type,
        ranked_nodes.alias_value,
        ranked_nodes.first_seen_at,
        {{ dbt.hash('anchors.identifier') }} as customer_key,
        anchors.identifier as anchor_identifier,
        anchors.first_seen_at as anchor_first_seen_at
    from ranked_nodes
    left join labels_{{ rounds }} as labels on ranked_nodes.node_rank = labels.node_rank
    inner join ranked_nodes as anchors on coalesce(labels.label, ranked_nodes.node_rank) = anchors.node_rank
)

select * from final
