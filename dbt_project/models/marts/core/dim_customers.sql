{#-
    One row per customer (customer_key), as known now: contact details and demographics for
    profiles and personalisation. CRM data wins where the customer has a CRM contact (the most
    recently created one if stitching found several); otherwise the most recently seen email /
    phone and the latest transaction's country and city. signup_at is the CRM creation date, else
    the first time any source saw the customer.

    A daily run recomputes only the customers whose identifiers or transactions changed
    (materialization touched_incremental): those int_customer_identity and
    int_transactions_unified logged since this model's last build, old and new keys. A change
    to any CRM contact rebuilds the table.
-#}
{{ config(
    materialized='touched_incremental',
    touched_inputs=[],
    touched_key='customer_key',
    touched_keys='dim_customers_touched_keys',
    touched_watch=['stg_crm__contacts'],
) }}
with

identity as (
    select * from {{ ref('int_customer_identity') }}
    where {{ touched_filter('customer_key') }}
),

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

transactions as (
    select * from {{ ref('fct_transactions') }}
    where {{ touched_filter('customer_key') }}
),

customers as (
    select
        customer_key,
        {{ dbt.any_value('anchor_identifier') }} as anchor_identifier,
        min(first_seen_at) as first_seen_at,
        count(case when alias_type = 'guest' then 1 end) > 0 as is_guest,
        count(case when alias_type = 'email' then 1 end) as email_count,
        count(case when alias_type = 'phone' then 1 end) as phone_count,
        {{ last_by('case when alias_type = \'email\' then alias_value end',
                   'case when alias_type = \'email\' then last_seen_at end') }} as latest_email,
        {{ last_by('case when alias_type = \'phone\' then alias_value end',
                   'case when alias_type = \'phone\' then last_seen_at end') }} as latest_phone
    from identity
    group by customer_key
),

latest_crm_contact as (
    select
        identity.customer_key,
        crm_contacts.*,
        row_number() over (
            partition by identity.customer_key
            order by crm_contacts.latest_record_created_at desc nulls last, crm_contacts.contact_key
        ) as contact_rank
    from crm_contacts
    inner join identity
        on {{ identifier_id('crm_contacts.contact_key') }} = identity.identifier_id
),

latest_location as (
    -- the country and city of the customer's latest transaction that had a country, grouped by
    -- the integer customer_id (10M rows), joined back by it
    select
        {{ identifier_id('customer_key') }} as customer_id,
        {{ last_by('country_code', 'transacted_at') }} as country_code,
        {{ last_by('city', 'transacted_at') }} as city
    from transactions
    where country_code is not null
    group by 1
),

final as (
    select
        customers.customer_key,
        customers.anchor_identifier,

        -- contact
        coalesce(crm.customer_email, customers.latest_email) as email,
        coalesce(crm.customer_phone, customers.latest_phone) as phone,
        crm.first_name,
        crm.last_name,

        -- demographics and geography
        crm.birth_date,
        crm.gender,
        coalesce(crm.country_code, locations.country_code) as country_code,
        case when crm.country_code is not null then crm.city else locations.city end as city,

        -- marketing
        crm.has_marketing_consent,
        crm.crm_lifecycle_stage,
        crm.contact_key is not null as is_in_crm,
        customers.is_guest,

        -- timestamps (UTC)
        coalesce(crm.signup_at, customers.first_seen_at) as signup_at,
        customers.first_seen_at,

        -- identity
        customers.email_count,
        customers.phone_count
    from customers
    left join latest_crm_contact as crm
        on customers.customer_key = crm.customer_key
        and crm.contact_rank = 1
    left join latest_location as locations
        on {{ identifier_id('customers.customer_key') }} = locations.customer_id
)

select * from final
