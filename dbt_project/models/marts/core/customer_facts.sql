{#-
    One row per customer per as-of date of the current run (meta.run_as_of_dates): what the
    warehouse knew about the customer on that date, from data on or before it only. Customers
    appear from the date any source first saw them; prospects (CRM or engagement only) have zero
    orders. "Last N days" means 0..N days before the as-of date, so day N is in and day N+1 out
    (the same boundary every segment rule uses).

    Counts come from the customer's running totals (int_customer_*_history): the last row on or
    before the as-of date, minus the last row before the window for windowed counts
    (macros/running_totals.sql). That uses DuckDB's ASOF JOIN; a port to another engine
    rewrites these lookups as a union of lookups and history rows plus last_value(ignore nulls).

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

as_of_lookups as (
    select * from {{ ref('int_as_of_lookups') }}
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

lookups as (
    select
        grid.customer_id,
        grid.as_of_date,
        as_of_lookups.lookup,
        as_of_lookups.lookup_date
    from grid
    inner join as_of_lookups
        on grid.as_of_date = as_of_lookups.as_of_date
),

purchase_states as (
    select
        lookups.customer_id,
        lookups.as_of_date,
        lookups.lookup,
        history.first_order_date,
        history.last_order_date,
        history.last_reactivation_date,
        history.orders_to_date,
        history.purchase_days_to_date,
        history.gross_revenue_to_date,
        history.refunded_amount_to_date,
        history.net_revenue_to_date,
        history.discounted_orders_to_date,
        history.disputed_orders_to_date,
        history.preferred_channel,
        history.preferred_category
    from lookups
    asof left join purchase_history as history
        on lookups.customer_id = history.customer_id
        and lookups.lookup_date >= history.segment_end_date
    where lookups.lookup in ('now', 'before_30', 'before_180', 'before_365')
),

purchases as (
    select
        customer_id,
        as_of_date,
        {{ as_of_value('first_order_date') }} as first_order_date,
        {{ as_of_value('last_order_date') }} as last_order_date,
        {{ as_of_value('last_reactivation_date') }} as last_reactivation_date,
        coalesce({{ as_of_value('orders_to_date') }}, 0) as orders_count,
        coalesce({{ as_of_value('purchase_days_to_date') }}, 0) as distinct_purchase_days,
        coalesce({{ as_of_value('gross_revenue_to_date') }}, 0) as gross_revenue,
        coalesce({{ as_of_value('refunded_amount_to_date') }}, 0) as refunded_amount,
        coalesce({{ as_of_value('net_revenue_to_date') }}, 0) as net_revenue,
        coalesce({{ as_of_value('discounted_orders_to_date') }}, 0) as discounted_orders,
        coalesce({{ as_of_value('disputed_orders_to_date') }}, 0) as disputes_count,
        {{ as_of_value('preferred_channel') }} as preferred_channel,
        {{ as_of_value('preferred_category') }} as preferred_category,
        {{ window_total('orders_to_date', 'before_30') }} as purchases_last_30_days,
        {{ window_total('orders_to_date', 'before_180') }} as purchases_last_180_days,
        {{ window_total('orders_to_date', 'before_365') }} as purchases_last_365_days,
        {{ window_total('gross_revenue_to_date', 'before_365') }} as gross_revenue_last_365_days,
        {{ window_total('refunded_amount_to_date', 'before_365') }} as refunded_amount_last_365_days,
        {{ window_total('net_revenue_to_date', 'before_365') }} as net_revenue_last_365_days,
        {{ window_total('disputed_orders_to_date', 'before_365') }} as disputes_last_365_days
    from purchase_states
    group by customer_id, as_of_date
),

engagement_states as (
    select
        lookups.customer_id,
        lookups.as_of_date,
        lookups.lookup,
        history.last_engagement_date,
        history.events_to_date,
        history.sessions_to_date,
        history.points_to_date,
        history.points_x_day_number_to_date
    from lookups
    asof left join engagement_history as history
        on lookups.customer_id = history.customer_id
        and lookups.lookup_date >= history.segment_end_date
    where lookups.lookup in ('now', 'before_30', 'before_90')
),

engagement as (
    select
        customer_id,
        as_of_date,
        {{ as_of_value('last_engagement_date') }} as last_engagement_date,
        {{ window_total('events_to_date', 'before_30') }} as engagement_events_last_30_days,
        {{ window_total('events_to_date', 'before_90') }} as engagement_events_last_90_days,
        {{ window_total('sessions_to_date', 'before_30') }} as sessions_last_30_days,
        {{ window_total('points_to_date', 'before_90') }} as points_90,
        {{ window_total('points_x_day_number_to_date', 'before_90') }} as points_x_day_number_90
    from engagement_states
    group by customer_id, as_of_date
),

support_states as (
    select
        lookups.customer_id,
        lookups.as_of_date,
        lookups.lookup,
        history.complaints_to_date
    from lookups
    asof left join support_history as history
        on lookups.customer_id = history.customer_id
        and lookups.lookup_date >= history.segment_end_date
    where lookups.lookup in ('now', 'before_365')
),

support as (
    select
        customer_id,
        as_of_date,
        coalesce({{ as_of_value('complaints_to_date') }}, 0) as support_complaints,
        {{ window_total('complaints_to_date', 'before_365') }} as support_complaints_last_365_days
    from support_states
    group by customer_id, as_of_date
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
        purchases.orders_count,
        purchases.distinct_purchase_days,
        {{ days_between('purchases.last_order_date', 'grid.as_of_date') }} as days_since_last_order,
        cast(
            {{ list_median('list_slice(purchase_gaps.gaps_in_date_order, 1, purchases.distinct_purchase_days - 1)') }}
            as decimal(9, 1)
        ) as median_days_between_orders,
        purchases.purchases_last_30_days,
        purchases.purchases_last_180_days,
        purchases.purchases_last_365_days,
        purchases.last_reactivation_date,

        -- money, reporting currency
        cast(purchases.gross_revenue as decimal(18, 2)) as gross_revenue,
        cast(purchases.refunded_amount as decimal(18, 2)) as refunded_amount,
        cast(purchases.net_revenue as decimal(18, 2)) as net_revenue,
        cast(purchases.gross_revenue / nullif(purchases.orders_count, 0) as decimal(18, 2))
            as average_order_value,
        cast(purchases.gross_revenue_last_365_days as decimal(18, 2)) as gross_revenue_last_365_days,
        cast(purchases.refunded_amount_last_365_days as decimal(18, 2)) as refunded_amount_last_365_days,
        cast(purchases.net_revenue_last_365_days as decimal(18, 2)) as net_revenue_last_365_days,

        -- preferences
        purchases.preferred_channel,
        purchases.preferred_category,
        cast(purchases.discounted_orders * 1.0 / nullif(purchases.orders_count, 0) as decimal(9, 4))
            as discount_share,

        -- problems
        cast(purchases.refunded_amount / nullif(purchases.gross_revenue, 0) as decimal(9, 4)) as refund_rate,
        cast(
            purchases.refunded_amount_last_365_days / nullif(purchases.gross_revenue_last_365_days, 0)
            as decimal(9, 4)
        ) as refund_rate_last_365_days,
        purchases.disputes_count,
        purchases.disputes_last_365_days,
        support.support_complaints,
        support.support_complaints_last_365_days,

        -- who and where (current values)
        customers.country_code,
        customers.city,
        ages.age_band,
        customers.gender,
        cast(customers.signup_at as date) as signup_date,
        customers.has_marketing_consent,

        -- engagement
        engagement.engagement_events_last_30_days,
        engagement.engagement_events_last_90_days,
        engagement.sessions_last_30_days,
        -- each event's weight times (1 - days ago / 91): today counts fully, 90 days ago ~1%
        cast(
            engagement.points_90
            - ({{ day_number('grid.as_of_date') }} * engagement.points_90 - engagement.points_x_day_number_90) / 91.0
            as decimal(12, 4)
        ) as engagement_points_last_90_days,
        engagement.last_engagement_date
    from grid
    inner join purchases
        on grid.customer_id = purchases.customer_id
        and grid.as_of_date = purchases.as_of_date
    inner join engagement
        on grid.customer_id = engagement.customer_id
        and grid.as_of_date = engagement.as_of_date
    inner join support
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
