{#-
    One row per customer (customer_id = identifier_id(customer_key)) per as-of segment with
    support tickets, with running ticket and
    complaint counts up to the segment's end (see int_customer_purchase_history). Tickets belong
    to a customer by the requester's email.
-#}
with

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

identity as (
    select * from {{ ref('int_customer_identity') }}
),

as_of_segments as (
    select * from {{ ref('int_as_of_segments') }}
),

segment_bounds as (
    select
        max(calendar_date) as last_calendar_date,
        min(segment_end_date) as first_segment_end_date
    from as_of_segments
),

segmented as (
    select
        {{ identifier_id('identity.customer_key') }} as customer_id,
        coalesce(as_of_segments.segment_end_date, segment_bounds.first_segment_end_date) as segment_end_date,
        count(*) as tickets,
        count(case when tickets.is_complaint then 1 end) as complaints
    from tickets
    cross join segment_bounds
    inner join identity
        on identity.identifier_id = {{ identifier_id(identifier("'email'", 'tickets.customer_email')) }}
    left join as_of_segments
        on cast(tickets.created_at as date) = as_of_segments.calendar_date
    where cast(tickets.created_at as date) <= segment_bounds.last_calendar_date
    group by 1, 2
),

final as (
    select
        customer_id,
        segment_end_date,
        tickets,
        complaints,
        cast(sum(tickets) over to_date as bigint) as tickets_to_date,
        cast(sum(complaints) over to_date as bigint) as complaints_to_date
    from segmented
    window to_date as (
        partition by customer_id order by segment_end_date
        rows between unbounded preceding and current row
    )
)

select * from final
