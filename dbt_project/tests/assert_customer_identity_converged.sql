-- Identifiers seen together on a record belong to one customer: the identity stitching
-- (int_customer_identity) reached its fixed point. A returned row is a record whose
-- identifiers ended up in two customers; on engines using the fixed-round fallback of
-- macros/connected_components.sql, raise the var identity_propagation_rounds.
with

observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

split_records as (
    select
        observed.source,
        observed.record_identifier,
        observed.identifier,
        record_customers.customer_key as record_customer_key,
        identifier_customers.customer_key as identifier_customer_key
    from observed
    inner join identity as record_customers
        on observed.record_identifier_id = record_customers.identifier_id
    inner join identity as identifier_customers
        on observed.identifier_id = identifier_customers.identifier_id
    where record_customers.customer_key <> identifier_customers.customer_key
)

select * from split_records
