{#-
    One row per customer (customer_key), as known now: contact details and demographics for
    profiles and personalisation. CRM data wins where the customer has a CRM contact (the most
    recently created one if stitching found several); otherwise the most recently seen email /
    phone and the latest transaction's country and city. signup_at is the CRM creation date, else
    the first time any source saw the customer.
-#}
with

identity as (
    select * from {{ ref('int_customer_identity') }}
),

aliases as (
    select * from {{ ref('int_customer_aliases') }}
),

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

transactions as (
    select * from {{ ref('fct_transactions') }}
),

customers as (
    select
        customer_key,
        min(anchor_identifier) as anchor_identifier,
        min(first_seen_at) as first_seen_at,
        max(case when alias_type = 'guest' then 1 else 0 end) = 1 as is_guest,
        count(distinct case when alias_type = 'email' then alias_value end) as email_count,
        count(distinct case when alias_type = 'phone' then alias_value end) as phone_count
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

latest_alias as (
    select
        customer_key,
        alias_type,
        alias_value,
        row_number() over (
            partition by customer_key, alias_type
            order by last_seen_at desc, alias_value
        ) as alias_rank
    from aliases
    where alias_type in ('email', 'phone')
),

latest_location as (
    -- the country and city of the customer's latest transaction that had a country
    select
        customer_key,
        {{ last_by('country_code', 'transacted_at') }} as country_code,
        {{ last_by('city', 'transacted_at') }} as city
    from transactions
    where country_code is not null
    group by customer_key
),

final as (
    select
        customers.customer_key,
        customers.anchor_identifier,

        -- contact
        coalesce(crm.customer_email, emails.alias_value) as email,
        coalesce(crm.customer_phone, phones.alias_value) as phone,
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
    left join latest_alias as emails
        on customers.customer_key = emails.customer_key
        and emails.alias_type = 'email'
        and emails.alias_rank = 1
    left join latest_alias as phones
        on customers.customer_key = phones.customer_key
        and phones.alias_type = 'phone'
        and phones.alias_rank = 1
    left join latest_location as locations
        on customers.customer_key = locations.customer_key
)

select * from final
