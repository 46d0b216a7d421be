{#-
    One row per identifier (email, phone, account id, guest record) with the customer it belongs
    to. Identifiers seen together on any record are one customer, transitively: the connected
    components of the graph int_identifiers_observed describes (Anna's two email spellings, her
    phone in the CRM and her loyalty card at the till are one person).

    Components are found by min-label propagation: every identifier starts with its own rank
    and repeatedly takes the smallest rank among its neighbours until nothing changes. DuckDB's
    recursive CTE with USING KEY keeps one label per identifier and revisits only identifiers
    whose label just changed, so it converges in a few passes over the graph whatever the chain
    length (test assert_customer_identity_converged checks the result). Other engines need a
    loop of propagation rounds instead.

    customer_key = keyed md5 of the component's anchor (macro customer_key: md5 of the
    warehouse's secret, ':' and the anchor), its identifier seen first (earliest
    first_seen_at, ties broken alphabetically); not reversible from a list of emails. It does not depend on load order, and data
    arriving later never changes it, except when it links two known customers: then the merged
    customer keeps the older anchor's key.

    A daily run recomputes only the customers new files touch (materialization
    touched_incremental, macros/touched_keys.sql): the identifiers of the touched records and
    every identifier of the customers they belonged to. While files are only added, links are
    only added, so customers only merge and that set holds whole customers; the anchor is
    chosen within each customer, so the keys equal a rebuild's. keyed_at says when an
    identifier's customer_key last changed (this build's time on a rebuild): the models above
    follow it to find the rekeyed customers.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=identity_touched_inputs(),
    touched_key='identifier_id',
    touched_keys='customer_identity_touched_keys',
    touched_watch=['stg_meta__customer_key_secret'],
    touched_stamp={'column': 'keyed_at', 'compare': 'customer_key'},
    touched_log='customer_key',
) }}
-- depends_on: {{ ref('int_transactions_unioned') }}
-- depends_on: {{ ref('int_event_visitors') }}
-- depends_on: {{ ref('stg_events__events') }}
-- depends_on: {{ ref('stg_support__tickets') }}
with

observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

key_secret as (
    select * from {{ ref('stg_meta__customer_key_secret') }}
),

nodes as (
    select
        identifier_id,
        {{ dbt.any_value('identifier') }} as identifier,
        {{ dbt.any_value('alias_type') }} as alias_type,
        {{ dbt.any_value('alias_value') }} as alias_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from observed
    where {{ touched_filter('identifier_id') }}
    group by identifier_id
),

ranked_nodes as (
    -- rank order is anchor preference; integer ranks keep the propagation cheap
    select
        *,
        row_number() over (order by first_seen_at, identifier) as node_rank
    from nodes
),

record_links as (
    -- every identifier of a record is linked to the record's identifier
    select distinct record_identifier_id, identifier_id
    from observed
    where identifier_id <> record_identifier_id
        and {{ touched_filter('identifier_id') }}
),

links as (
    select
        records.node_rank as record_rank,
        identifiers.node_rank as identifier_rank
    from record_links
    inner join ranked_nodes as records on record_links.record_identifier_id = records.identifier_id
    inner join ranked_nodes as identifiers on record_links.identifier_id = identifiers.identifier_id
),

edges as (
    select record_rank as from_rank, identifier_rank as to_rank from links
    union all
    select identifier_rank, record_rank from links
),

linked_nodes as (
    -- identifiers that share a record with another one; the rest (a lone email) are their own
    -- customer and skip the propagation
    select distinct from_rank as node_rank from edges
),

labels as (
    {{ connected_component_labels('linked_nodes', 'edges') }}
),

final as (
    select
        ranked_nodes.identifier,
        ranked_nodes.identifier_id,
        ranked_nodes.alias_type,
        ranked_nodes.alias_value,
        ranked_nodes.first_seen_at,
        ranked_nodes.last_seen_at,
        {{ customer_key('key_secret.secret', 'anchors.identifier') }} as customer_key,
        anchors.identifier as anchor_identifier,
        anchors.first_seen_at as anchor_first_seen_at,
        current_timestamp as keyed_at
    from ranked_nodes
    left join labels
        on ranked_nodes.node_rank = labels.node_rank
    inner join ranked_nodes as anchors
        on coalesce(labels.label, ranked_nodes.node_rank) = anchors.node_rank
    cross join key_secret
)

select * from final
