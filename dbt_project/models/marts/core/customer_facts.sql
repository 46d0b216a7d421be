{#-
    One row per customer per as-of date of the current run (meta.run_as_of_dates): what the
    warehouse knew about the customer on that date, from data on or before it only. Customers
    appear from the date any source first saw them; prospects (CRM or engagement only) have zero
    orders. "Last N days" means 0..N days before the as-of date, so day N is in and day N+1 out
    (the same boundary every segment rule uses).

    Set-based: the customer histories (int_customer_purchase_history, _engagement_history,
    _support_history) already hold one row per customer per as-of date of the run with the
    lifetime and "last N days" values (macros/as_of.sql); this model joins them on
    (customer, as-of date), with zeros where a customer had no activity yet.

    median_days_between_orders is the median of the gaps between the purchase days up to the
    as-of date (the first distinct_purchase_days - 1 gaps); null with fewer than two. (Before
    the set-based rewrite a customer seen before a first purchase got the median of later gaps.)

    Demographics (country, city, gender, age band, consent) are the current values from
    dim_customers: the CRM export keeps no history. The age band is computed on the as-of date.
-#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

run_dates as (
    select * from {{ ref('stg_meta__run_as_of_dates') }}
),

purchase_history as (
    select * from {{ ref('int_customer_purchase_history') }}
),

purchase_gaps as (
    select * from {{ ref('int_customer_purchase_gaps') }}
),

engagement_history as (
    select * from {{ ref('int_customer_engagement_history') }}
),

support_history as (
    select * from {{ ref('int_customer_support_history') }}
),

age_bands as (
    select * from {{ ref('age_bands') }}
),

grid as (
    select
        customers.customer_key,
        {{ identifier_id('customers.customer_key') }} as customer_id,
        run_dates.as_of_date
    from customers
    inner join run_dates
        on cast(customers.first_seen_at as date) <= run_dates.as_of_date
),

purchases as (
    select
        customer_id,
        as_of_date,
        first_order_date,
        last_order_date,
        last_reactivation_date,
        orders_to_date as orders_count,
        purchase_days_to_date as distinct_purchase_days,
        gross_revenue_to_date as gross_revenue,
        refunded_amount_to_date as refunded_amount,
        net_revenue_to_date as net_revenue,
        discounted_orders_to_date as discounted_orders,
        disputed_orders_to_date as disputes_count,
        preferred_channel,
        preferred_category,
        purchases_last_30_days,
        purchases_last_180_days,
        purchases_last_365_days,
        gross_revenue_last_365_days,
        refunded_amount_last_365_days,
        net_revenue_last_365_days,
        disputes_last_365_days
    from purchase_history
),

engagement as (
    select * from engagement_history
),

support as (
    select
        customer_id,
        as_of_date,
        complaints_to_date as support_complaints,
        complaints_last_365_days as support_complaints_last_365_days
    from support_history
),

ages as (
    -- one row per whole age 0-150 with its band: an equi-join instead of a range join
    select
        day_numbers.generated_number - 1 as age_years,
        age_bands.age_band
    from ({{ dbt.generate_series(151) }}) as day_numbers
    inner join age_bands
        on day_numbers.generated_number - 1 between age_bands.min_age and age_bands.max_age
),

final as (
    select
        -- keys
        grid.customer_key,
        grid.as_of_date,

        -- purchases
        purchases.first_order_date,
        purchases.last_order_date,
        {{ days_between('purchases.first_order_date', 'grid.as_of_date') }} as tenure_days,
        coalesce(purchases.orders_count, 0) as orders_count,
        coalesce(purchases.distinct_purchase_days, 0) as distinct_purchase_days,
        {{ days_between('purchases.last_order_date', 'grid.as_of_date') }} as days_since_last_order,
        cast(
            {{ median_of_first(
                'purchase_gaps.gaps_in_date_order',
                'greatest(coalesce(purchases.distinct_purchase_days, 0) - 1, 0)'
            ) }}
            as decimal(9, 1)
        ) as median_days_between_orders,
        coalesce(purchases.purchases_last_30_days, 0) as purchases_last_30_days,
        coalesce(purchases.purchases_last_180_days, 0) as purchases_last_180_days,
        coalesce(purchases.purchases_last_365_days, 0) as purchases_last_365_days,
        purchases.last_reactivation_date,

        -- money, reporting currency
        cast(coalesce(purchases.gross_revenue, 0) as decimal(18, 2)) as gross_revenue,
        cast(coalesce(purchases.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        cast(coalesce(purchases.net_revenue, 0) as decimal(18, 2)) as net_revenue,
        cast(coalesce(purchases.gross_revenue, 0) / nullif(coalesce(purchases.orders_count, 0), 0) as decimal(18, 2))
            as average_order_value,
        cast(coalesce(purchases.gross_revenue_last_365_days, 0) as decimal(18, 2)) as gross_revenue_last_365_days,
        cast(coalesce(purchases.refunded_amount_last_365_days, 0) as decimal(18, 2)) as refunded_amount_last_365_days,
        cast(coalesce(purchases.net_revenue_last_365_days, 0) as decimal(18, 2)) as net_revenue_last_365_days,

        -- preferences
        purchases.preferred_channel,
        purchases.preferred_category,
        cast(coalesce(purchases.discounted_orders, 0) * 1.0 / nullif(coalesce(purchases.orders_count, 0), 0) as decimal(9, 4))
            as discount_share,

        -- problems
        cast(coalesce(purchases.refunded_amount, 0) / nullif(coalesce(purchases.gross_revenue, 0), 0) as decimal(9, 4)) as refund_rate,
        cast(
            coalesce(purchases.refunded_amount_last_365_days, 0) / nullif(coalesce(purchases.gross_revenue_last_365_days, 0), 0)
            as decimal(9, 4)
        ) as refund_rate_last_365_days,
        coalesce(purchases.disputes_count, 0) as disputes_count,
        coalesce(purchases.disputes_last_365_days, 0) as disputes_last_365_days,
        coalesce(support.support_complaints, 0) as support_complaints,
        coalesce(support.support_complaints_last_365_days, 0) as support_complaints_last_365_days,

        -- who and where (current values)
        customers.country_code,
        customers.city,
        ages.age_band,
        customers.gender,
        cast(customers.signup_at as date) as signup_date,
        customers.has_marketing_consent,

        -- engagement
        coalesce(engagement.engagement_events_last_30_days, 0) as engagement_events_last_30_days,
        coalesce(engagement.engagement_events_last_90_days, 0) as engagement_events_last_90_days,
        coalesce(engagement.sessions_last_30_days, 0) as sessions_last_30_days,
        -- each event's weight times (1 - days ago / 91): today counts fully, 90 days ago ~1%
        cast(
            coalesce(engagement.points_90, 0)
            - ({{ day_number('grid.as_of_date') }} * coalesce(engagement.points_90, 0) - coalesce(engagement.points_x_day_number_90, 0)) / 91.0
            as decimal(12, 4)
        ) as engagement_points_last_90_days,
        engagement.last_engagement_date
    from grid
    left join purchases
        on grid.customer_id = purchases.customer_id
        and grid.as_of_date = purchases.as_of_date
    left join engagement
        on grid.customer_id = engagement.customer_id
        and grid.as_of_date = engagement.as_of_date
    left join support
        on grid.customer_id = support.customer_id
        and grid.as_of_date = support.as_of_date
    inner join customers
        on grid.customer_key = customers.customer_key
    left join purchase_gaps
        on grid.customer_id = purchase_gaps.customer_id
    left join ages
        on {{ age_in_years('customers.birth_date', 'grid.as_of_date') }} = ages.age_years
)

select * from final
