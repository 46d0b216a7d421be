{#-
    One row per CRM contact: the latest record per normalised email. Records without an email
    are kept per normalised phone; records with neither cannot identify anyone and are dropped.
    "Latest" is the most recently created record (ties: the later load, then the later line).
    Consent and name come from that record; an attribute it left blank comes from the newest
    duplicate that has it. signup_at is the earliest creation time across the duplicates.
-#}
with

contacts as (
    select * from {{ source('raw', 'crm_contacts') }}
),

country_aliases as (
    select * from {{ ref('country_aliases') }}
),

normalized as (
    select
        contacts.*,
        {{ normalize_email('contacts.email') }} as customer_email,
        {{ normalize_phone('contacts.phone') }} as customer_phone,
        country_aliases.country_code
    from contacts
    left join country_aliases
        on lower(trim(contacts.country)) = country_aliases.alias
),

keyed as (
    select
        *,
        coalesce('email:' || customer_email, 'phone:' || customer_phone) as contact_key
    from normalized
    where customer_email is not null or customer_phone is not null
),

ranked as (
    select
        *,
        row_number() over latest_first as recency_rank,
        -- Survivorship: the latest record decides consent and name; an attribute the latest
        -- record left blank (birth date, gender, city, ...) comes from the newest record that has it.
        first_value(customer_phone ignore nulls) over all_records as surviving_phone,
        first_value(birth_date ignore nulls) over all_records as surviving_birth_date,
        first_value(gender ignore nulls) over all_records as surviving_gender,
        first_value(city ignore nulls) over all_records as surviving_city,
        first_value(country_code ignore nulls) over all_records as surviving_country_code,
        min(created_at) over (partition by contact_key) as first_created_at,
        count(*) over (partition by contact_key) as record_count
    from keyed
    window
        latest_first as (
            partition by contact_key
            order by created_at desc nulls last, _loaded_at desc, _source_file desc, _source_line desc
        ),
        all_records as (
            latest_first rows between unbounded preceding and unbounded following
        )
),

renamed as (
    select
        -- ids
        contact_key,

        -- customer
        customer_email,
        surviving_phone as customer_phone,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        surviving_birth_date as birth_date,
        case
            when lower(trim(surviving_gender)) in ('f', 'female', 'woman', 'w') then 'female'
            when lower(trim(surviving_gender)) in ('m', 'male', 'man') then 'male'
            when lower(trim(surviving_gender)) in ('', 'u', 'unknown', 'n/a', 'prefer not to say') then null
            when surviving_gender is not null then 'other'
        end as gender,
        {{ clean_text('surviving_city') }} as city,
        surviving_country_code as country_code,
        lower(trim(lifecycle_stage)) as crm_lifecycle_stage,
        marketing_consent as has_marketing_consent,

        -- timestamps (UTC)
        first_created_at as signup_at,
        created_at as latest_record_created_at,

        -- lineage
        record_count,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1
)

select * from renamed
