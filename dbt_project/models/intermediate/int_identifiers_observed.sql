{#-
    One row per (source, record identifier, identifier): every email, phone and account id seen
    together on a source record, with when it was first and last seen. The edges and nodes of the
    identity graph (int_customer_identity) and the rows of the alias table.

    Records: purchases (int_transactions_unioned), CRM contacts, identified engagement events and
    support tickets. Events and tickets carry only an email, so they add identifiers (a prospect
    known from the newsletter) but no links. Anonymous browser ids are not identifiers: one
    shared computer would merge a household; int_customer_aliases attributes them afterwards.

    A daily run recomputes only the record identifiers that new files touch (materialization
    touched_incremental, macros/touched_keys.sql): a row depends only on the records of its
    record identifier. CRM contacts are compared whole (a changed contact rebuilds the table),
    and a generic receipt with lines in a new and an older file rebuilds it too (its record
    identifier may have changed). An increment logs the record identifiers it recomputed
    (meta.dbt_touched_log): int_customer_identity and int_customer_aliases start from them.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=identity_touched_inputs(),
    touched_key='record_identifier_id',
    touched_keys='identifiers_observed_touched_keys',
    touched_guard='receipts_across_files_guard',
    touched_watch=['stg_crm__contacts'],
    touched_log='record_identifier_id',
) }}
-- depends_on: {{ ref('stg_events__events') }}
-- depends_on: {{ ref('stg_generic__transaction_lines') }}
with

transactions as (
    select * from {{ ref('int_transactions_unioned') }}
),

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

event_visitors as (
    select * from {{ ref('int_event_visitors') }}
),

support_tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

-- one row per record with up to four identifiers ---------------------------------------------

transaction_records as (
    select
        -- a generic source is one system per folder: 'generic/pos' (customer_source_ids)
        case when source = 'generic' then 'generic/' || channel else source end as source,
        record_identifier,
        account_type,
        account_id,
        customer_email,
        customer_phone,
        case when record_identifier like 'guest:%' then transaction_key end as guest_key,
        transacted_at as observed_at
    from transactions
),

crm_records as (
    select
        'crm' as source,
        {{ record_identifier('null', 'null', 'customer_email', 'customer_phone', 'null') }} as record_identifier,
        cast(null as {{ dbt.type_string() }}) as account_type,
        cast(null as {{ dbt.type_string() }}) as account_id,
        customer_email,
        customer_phone,
        cast(null as {{ dbt.type_string() }}) as guest_key,
        coalesce(signup_at, _loaded_at) as observed_at
    from crm_contacts
),

event_records as (
    select
        'events' as source,
        {{ identifier("'email'", 'customer_email') }} as record_identifier,
        cast(null as {{ dbt.type_string() }}) as account_type,
        cast(null as {{ dbt.type_string() }}) as account_id,
        customer_email,
        cast(null as {{ dbt.type_string() }}) as customer_phone,
        cast(null as {{ dbt.type_string() }}) as guest_key,
        first_seen_at as observed_at
    from event_visitors
    where customer_email is not null
),

support_records as (
    select
        'support' as source,
        {{ identifier("'email'", 'customer_email') }} as record_identifier,
        cast(null as {{ dbt.type_string() }}) as account_type,
        cast(null as {{ dbt.type_string() }}) as account_id,
        customer_email,
        cast(null as {{ dbt.type_string() }}) as customer_phone,
        cast(null as {{ dbt.type_string() }}) as guest_key,
        created_at as observed_at
    from support_tickets
    where customer_email is not null
),

records as (
    -- identical records (a customer's repeat orders) collapse here, before the unpivot;
    -- grouped by integer ids of the strings, which is several times faster on 10M rows
    select
        source,
        {{ dbt.any_value('record_identifier') }} as record_identifier,
        {{ dbt.any_value('account_type') }} as account_type,
        {{ dbt.any_value('account_id') }} as account_id,
        {{ dbt.any_value('customer_email') }} as customer_email,
        {{ dbt.any_value('customer_phone') }} as customer_phone,
        {{ dbt.any_value('guest_key') }} as guest_key,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as records
    from (
        select * from transaction_records
        union all
        select * from crm_records
        union all
        select * from event_records
        union all
        select * from support_records
    ) as all_records
    where {{ touched_filter(identifier_id('record_identifier')) }}
    -- the record identifier determines account and guest key; email and phone may vary
    group by
        source,
        {{ identifier_id('record_identifier') }},
        {{ identifier_id('customer_email') }},
        {{ identifier_id('customer_phone') }}
),

-- one row per identifier a record carries -----------------------------------------------------

identifiers as (
    select
        source, record_identifier, account_type as alias_type, account_id as alias_value,
        first_seen_at, last_seen_at, records
    from records where account_id is not null
    union all
    select source, record_identifier, 'email', customer_email, first_seen_at, last_seen_at, records
    from records where customer_email is not null
    union all
    select source, record_identifier, 'phone', customer_phone, first_seen_at, last_seen_at, records
    from records where customer_phone is not null
    union all
    select source, record_identifier, 'guest', guest_key, first_seen_at, last_seen_at, records
    from records where guest_key is not null
),

identified as (
    select
        *,
        {{ identifier('alias_type', 'alias_value') }} as identifier,
        {{ identifier_id(identifier('alias_type', 'alias_value')) }} as identifier_id,
        {{ identifier_id('record_identifier') }} as record_identifier_id
    from identifiers
),

final as (
    select
        source,
        {{ dbt.any_value('record_identifier') }} as record_identifier,
        {{ dbt.any_value('alias_type') }} as alias_type,
        {{ dbt.any_value('alias_value') }} as alias_value,
        {{ dbt.any_value('identifier') }} as identifier,
        identifier_id,
        record_identifier_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(records) as bigint) as records
    from identified
    group by source, record_identifier_id, identifier_id
)

select * from final
