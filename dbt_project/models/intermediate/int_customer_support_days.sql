{#-
    One row per customer per UTC day with support tickets, with running ticket and complaint
    counts up to and including that day. Tickets belong to a customer by the requester's email.
-#}
with

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

daily as (
    select
        identity.customer_key,
        cast(tickets.created_at as date) as activity_date,
        count(*) as tickets,
        count(case when tickets.is_complaint then 1 end) as complaints
    from tickets
    inner join identity
        on identity.identifier_id = {{ identifier_id(identifier("'email'", 'tickets.customer_email')) }}
    group by identity.customer_key, cast(tickets.created_at as date)
),

final as (
    select
        customer_key,
        activity_date,
        tickets,
        complaints,
        cast(sum(tickets) over to_date as bigint) as tickets_to_date,
        cast(sum(complaints) over to_date as bigint) as complaints_to_date
    from daily
    window to_date as (
        partition by customer_key order by activity_date
        rows between unbounded preceding and current row
    )
)

select * from final
