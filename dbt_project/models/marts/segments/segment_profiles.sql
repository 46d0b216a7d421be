{{
    config(
        materialized='as_of_incremental',
        unique_key='as_of_date',
        on_schema_change='append_new_columns'
    )
}}
{#-
    One row per as-of date of the run, segment family and segment (including a null segment:
    the customers without a label of that family): who is in it. Customers and share of all
    customers, net revenue to date (reporting currency) and share, average RFM recency /
    frequency / monetary of the scored members, average order value, the most common country
    and preferred category, median age. is_below_minimum_size flags segments smaller than
    profiles.min_segment_share of customers or profiles.min_segment_customers, whichever is
    larger (seed segment_settings): too small to act on (test
    assert_segments_meet_minimum_size warns). Incremental by as_of_date.
-#}
with

snapshots as (
    select * from {{ ref('segment_snapshots') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

facts as (
    select * from {{ ref('customer_facts') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_incremental)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

settings as (
    select * from {{ ref('int_segment_settings') }}
),

members as (
    select
        snapshots.*,
        facts.net_revenue,
        facts.gross_revenue,
        facts.orders_count,
        facts.country_code,
        {{ age_in_years('customers.birth_date', 'snapshots.as_of_date') }} as age_years
    from snapshots
    inner join run_dates
        on snapshots.as_of_date = run_dates.as_of_date
    inner join facts
        on snapshots.customer_key = facts.customer_key
        and snapshots.as_of_date = facts.as_of_date
    inner join customers
        on snapshots.customer_key = customers.customer_key
),

profiles as (
    select
        as_of_date,
        {{ family_of_set() }} as segment_family,
        {{ segment_of_set() }} as segment,
        count(*) as customers,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue,
        cast(avg(recency_days) as decimal(12, 1)) as average_recency_days,
        cast(avg(frequency) as decimal(12, 2)) as average_frequency,
        cast(avg(monetary) as decimal(18, 2)) as average_monetary,
        cast(sum(gross_revenue) / nullif(sum(orders_count), 0) as decimal(18, 2)) as average_order_value
    from members
    group by {{ family_grouping_sets() }}
),

age_counts as (
    -- members per whole age: the median age from these counts, not from every member's age
    select
        as_of_date,
        {{ family_of_set() }} as segment_family,
        {{ segment_of_set() }} as segment,
        age_years,
        count(*) as members
    from members
    where age_years is not null
    group by {{ family_grouping_sets(['age_years']) }}
),

median_ages as (
    -- the median of n ages: the mean of the ages at positions floor((n + 1) / 2) and
    -- floor(n / 2) + 1 (one position when n is odd), read from the running counts
    select
        as_of_date,
        segment_family,
        segment,
        (
            min(case when members_up_to_age >= floor((members_with_age + 1) / 2) then age_years end)
            + min(case when members_up_to_age >= floor(members_with_age / 2) + 1 then age_years end)
        ) / 2.0 as median_age
    from (
        select
            *,
            sum(members) over by_segment as members_with_age,
            sum(members) over (by_segment order by age_years rows between unbounded preceding and current row)
                as members_up_to_age
        from age_counts
        window by_segment as (partition by as_of_date, segment_family, segment)
    ) as running
    group by as_of_date, segment_family, segment
),

{% for attribute in ['country_code', 'preferred_category'] %}
top_{{ attribute }} as (
    -- the most common value among members (ties: alphabetical)
    select
        as_of_date,
        segment_family,
        segment,
        {{ first_by('value', "{'members': -members, 'value': value}") }} as top_value
    from (
        select
            as_of_date,
            {{ family_of_set() }} as segment_family,
            {{ segment_of_set() }} as segment,
            {{ attribute }} as value,
            count(*) as members
        from members
        where {{ attribute }} is not null
        group by {{ family_grouping_sets([attribute]) }}
    ) as counted
    group by 1, 2, 3
),
{% endfor %}

final as (
    select
        profiles.as_of_date,
        profiles.segment_family,
        profiles.segment,
        profiles.customers,
        cast(
            profiles.customers * 1.0 / sum(profiles.customers) over family_on_date as decimal(9, 4)
        ) as customer_share,
        profiles.net_revenue,
        cast(
            profiles.net_revenue / nullif(sum(profiles.net_revenue) over family_on_date, 0) as decimal(9, 4)
        ) as net_revenue_share,
        profiles.average_recency_days,
        profiles.average_frequency,
        profiles.average_monetary,
        profiles.average_order_value,
        top_country_code.top_value as top_country_code,
        top_preferred_category.top_value as top_category,
        cast(median_ages.median_age as decimal(5, 1)) as median_age,
        profiles.customers < greatest(
            settings.profiles_min_segment_share * sum(profiles.customers) over family_on_date,
            settings.profiles_min_segment_customers
        ) as is_below_minimum_size
    from profiles
    cross join settings
    left join top_country_code
        on profiles.as_of_date = top_country_code.as_of_date
        and profiles.segment_family = top_country_code.segment_family
        and profiles.segment is not distinct from top_country_code.segment
    left join top_preferred_category
        on profiles.as_of_date = top_preferred_category.as_of_date
        and profiles.segment_family = top_preferred_category.segment_family
        and profiles.segment is not distinct from top_preferred_category.segment
    left join median_ages
        on profiles.as_of_date = median_ages.as_of_date
        and profiles.segment_family = median_ages.segment_family
        and profiles.segment is not distinct from median_ages.segment
    window family_on_date as (partition by profiles.as_of_date, profiles.segment_family)
)

select * from final
