{#-
    One row per (source, alias type, alias value) → customer_key: how each source system knows
    each customer (an email as Shopify had it, a Stripe customer id, a loyalty card, a guest
    order). Values are normalised (lower-case email, digits-only phone).

    Also maps anonymous browser ids (source 'events', alias type 'anonymous_id') to the customer
    who logged in with them, but only when every login on that browser was the same customer: a
    shared computer stays anonymous rather than lending one person's visits to another.

    alias_id = identifier_id of '<alias_type>:<alias_value>' (internal to the build). A daily
    run recomputes only the aliases that changed (materialization touched_incremental,
    macros/touched_keys.sql): the identifiers of touched records, those rekeyed since this
    model's last build, and the browsers of visitors with new events or rekeyed emails; the
    old and new customer of every recomputed alias is logged for int_customer_engagement_days.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=identity_touched_inputs(),
    touched_key='alias_id',
    touched_keys='customer_aliases_touched_keys',
    touched_log='customer_key',
) }}
-- depends_on: {{ ref('int_transactions_unioned') }}
-- depends_on: {{ ref('stg_events__events') }}
-- depends_on: {{ ref('stg_support__tickets') }}
with

observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

event_visitors as (
    select * from {{ ref('int_event_visitors') }}
),

observed_per_source as (
    select
        source,
        identifier_id,
        {{ dbt.any_value('alias_type') }} as alias_type,
        {{ dbt.any_value('alias_value') }} as alias_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(records) as records
    from observed
    where {{ touched_filter('identifier_id') }}
    group by source, identifier_id
),

source_aliases as (
    select
        observed_per_source.identifier_id as alias_id,
        observed_per_source.source,
        observed_per_source.alias_type,
        observed_per_source.alias_value,
        identity.customer_key,
        observed_per_source.first_seen_at,
        observed_per_source.last_seen_at,
        cast(observed_per_source.records as bigint) as records
    from observed_per_source
    inner join identity on observed_per_source.identifier_id = identity.identifier_id
),

browser_logins as (
    select
        event_visitors.anonymous_id,
        identity.customer_key,
        min(event_visitors.first_seen_at) as first_seen_at,
        max(event_visitors.last_seen_at) as last_seen_at,
        sum(event_visitors.events) as records
    from event_visitors
    inner join identity
        on identity.identifier_id = {{ identifier_id(identifier("'email'", 'event_visitors.customer_email')) }}
    where event_visitors.anonymous_id is not null
      and event_visitors.customer_email is not null
      and {{ touched_filter(identifier_id(identifier("'anonymous_id'", 'event_visitors.anonymous_id'))) }}
    group by event_visitors.anonymous_id, identity.customer_key
),

browsers_of_one_customer as (
    select
        {{ identifier_id(identifier("'anonymous_id'", 'anonymous_id')) }} as alias_id,
        'events' as source,
        'anonymous_id' as alias_type,
        anonymous_id as alias_value,
        min(customer_key) as customer_key,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(records) as bigint) as records
    from browser_logins
    group by anonymous_id
    having count(distinct customer_key) = 1
),

final as (
    select * from source_aliases
    union all
    select * from browsers_of_one_customer
)

select * from final
