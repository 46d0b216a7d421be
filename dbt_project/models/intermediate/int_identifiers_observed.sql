{#-
    One row per (source, record identifier, identifier): every email, phone and account id seen
    together on a source record, with when it was first and last seen. The edges and nodes of the
    identity graph (int_customer_identity) and the rows of the alias table.

    Records: purchases (int_transactions_unioned), CRM contacts, identified engagement events and
    support tickets. Events and tickets carry only an email, so they add identifiers (a prospect
    known from the newsletter) but no links. Anonymous browser ids are not identifiers: one
    shared computer would merge a household; int_customer_aliases attributes them afterwards.
-#}
with

transactions as (
    select * from {{ ref('int_transactions_unioned') }}
),

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

event_days as (
    select * from {{ ref('int_engagement_events_daily') }}
),

support_tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

-- one row per record with up to four identifiers ---------------------------------------------

transaction_records as (
    select
        source,
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
        first_occurred_at as observed_at
    from event_days
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
    -- identical records (a customer's repeat orders) collapse here, before the unpivot
    select
        source,
        record_identifier,
        account_type,
        account_id,
        customer_email,
        customer_phone,
        guest_key,
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
    group by source, record_identifier, account_type, account_id, customer_email, customer_phone, guest_key
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

final as (
    select
        source,
        record_identifier,
        alias_type,
        alias_value,
        {{ identifier('alias_type', 'alias_value') }} as identifier,
        {{ identifier_id(identifier('alias_type', 'alias_value')) }} as identifier_id,
        {{ identifier_id('record_identifier') }} as record_identifier_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(records) as bigint) as records
    from identifiers
    group by source, record_identifier, alias_type, alias_value
)

select * from final
