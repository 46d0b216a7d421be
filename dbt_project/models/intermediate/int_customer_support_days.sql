{#-
    One row per customer (customer_id = identifier_id(customer_key)) per UTC day with a support
    ticket: tickets and complaints that day. Tickets belong to a customer by the requester's
    email. Its own table, like int_customer_purchase_days and int_customer_engagement_days, so
    that int_customer_support_history, computed in batches of as-of dates, reads it instead of
    joining tickets to the identity table once per batch.
-#}
with

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

support_days as (
    select
        {{ identifier_id('identity.customer_key') }} as customer_id,
        cast(tickets.created_at as date) as activity_date,
        count(*) as tickets,
        count(case when tickets.is_complaint then 1 end) as complaints
    from tickets
    inner join identity
        on identity.identifier_id = {{ identifier_id(identifier("'email'", 'tickets.customer_email')) }}
    group by 1, 2
)

select * from support_days
