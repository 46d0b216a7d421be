{#-
    One row per customer per as-of date of the current run (meta.run_as_of_dates): what the
    warehouse knew about the customer on that date, from data on or before it only. Customers
    appear from the date any source first saw them; prospects (CRM or engagement only) have zero
    orders. "Last N days" means 0..N days before the as-of date, so day N is in and day N+1 out
    (the same boundary every segment rule uses).

    Set-based: the customer histories (int_customer_purchase_history, _engagement_history,
    _support_history) already hold one row per customer per as-of date of the run with the
    lifetime and "last N days" values (macros/as_of.sql); this model combines them
    (a full join of the purchase history with the union + aggregation of the other two) and
    joins them to the customers known on each date, with zeros
    where a customer had no activity yet.

    median_days_between_orders is the median of the gaps between the purchase days up to the
    as-of date (int_customer_purchase_history); null with fewer than two. (Before the set-based
    rewrite a customer seen before a first purchase got the median of later gaps.)

    Demographics (country, city, gender, age band, consent) are the current values from
    dim_customers: the CRM export keeps no history. The age band is computed on the as-of date.
-#}
{#- half the rows per batch of the other history models: at 10M transactions under the
    default 2GB memory limit, batches of 7 dates x 1.39M customers ran out of memory
    (docs/performance.md, What remains 5) -#}
{{ config(materialized='as_of_table', as_of_batch_share=0.5) }}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

run_dates as (
    -- the run's as-of dates, or one batch of them (materialization as_of_table)
    select * from {{ ref('stg_meta__run_as_of_dates') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

purchase_history as (
    select * from {{ ref('int_customer_purchase_history') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

engagement_history as (
    select * from {{ ref('int_customer_engagement_history') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

support_history as (
    select * from {{ ref('int_customer_support_history') }}
    where {{ as_of_batch_filter('as_of_date') }}
),

age_bands as (
    select * from {{ ref('age_bands') }}
),

grid as (
    -- the customers known on each date, with their current attributes
    select
        customers.customer_key,
        {{ identifier_id('customers.customer_key') }} as customer_id,
        run_dates.as_of_date,
        customers.country_code,
        customers.city,
        customers.birth_date,
        customers.gender,
        customers.signup_at,
        customers.has_marketing_consent
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
        orders_with_discount_data_to_date as orders_with_discount_data,
        median_days_between_orders,
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

{%- set other_columns = {
    'engagement': ['last_engagement_date', 'engagement_events_last_30_days', 'engagement_events_last_90_days', 'sessions_last_30_days', 'points_90', 'points_x_day_number_90'],
    'support': ['support_complaints', 'support_complaints_last_365_days'],
} %}
{%- set purchase_columns = ['first_order_date', 'last_order_date', 'last_reactivation_date', 'orders_count', 'distinct_purchase_days', 'gross_revenue', 'refunded_amount', 'net_revenue', 'discounted_orders', 'orders_with_discount_data', 'median_days_between_orders', 'disputes_count', 'preferred_channel', 'preferred_category', 'purchases_last_30_days', 'purchases_last_180_days', 'purchases_last_365_days', 'gross_revenue_last_365_days', 'refunded_amount_last_365_days', 'net_revenue_last_365_days', 'disputes_last_365_days'] %}

other_history as (
    -- engagement and support values per customer and as-of date: a union of the two narrow
    -- histories and one aggregation
    select
        customer_id,
        as_of_date,
        {%- for source, columns in other_columns.items() %}
        {%- for column in columns %}
        max({{ column }}) as {{ column }}{{ "," if not (loop.last and source == 'support') }}
        {%- endfor %}
        {%- endfor %}
    from (
        {%- for branch in other_columns %}
        select
            customer_id,
            as_of_date
            {%- for source, columns in other_columns.items() %}{% for column in columns %},
            {{ column if source == branch else 'null' }} as {{ column }}
            {%- endfor %}{% endfor %}
        from {{ branch }}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ) as history_rows
    group by customer_id, as_of_date
),

history as (
    -- one row per customer and as-of date with any activity. The wide purchase history joins
    -- the narrow rest: a union + aggregation of all three (29 max() columns over every row)
    -- took 17.4 s at 1M transactions against 9.3 s for this; three hash joins in one pipeline
    -- ran out of memory under 4GB, this runs under 1GB (spilling)
    select
        coalesce(purchases.customer_id, other_history.customer_id) as customer_id,
        coalesce(purchases.as_of_date, other_history.as_of_date) as as_of_date,
        {%- for column in purchase_columns %}
        purchases.{{ column }},
        {%- endfor %}
        {%- for source, columns in other_columns.items() %}
        {%- for column in columns %}
        other_history.{{ column }}{{ "," if not (loop.last and source == 'support') }}
        {%- endfor %}
        {%- endfor %}
    from purchases
    full outer join other_history
        on purchases.customer_id = other_history.customer_id
        and purchases.as_of_date = other_history.as_of_date
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
        history.first_order_date,
        history.last_order_date,
        {{ days_between('history.first_order_date', 'grid.as_of_date') }} as tenure_days,
        coalesce(history.orders_count, 0) as orders_count,
        coalesce(history.distinct_purchase_days, 0) as distinct_purchase_days,
        {{ days_between('history.last_order_date', 'grid.as_of_date') }} as days_since_last_order,
        history.median_days_between_orders,
        coalesce(history.purchases_last_30_days, 0) as purchases_last_30_days,
        coalesce(history.purchases_last_180_days, 0) as purchases_last_180_days,
        coalesce(history.purchases_last_365_days, 0) as purchases_last_365_days,
        history.last_reactivation_date,

        -- money, reporting currency
        cast(coalesce(history.gross_revenue, 0) as decimal(18, 2)) as gross_revenue,
        cast(coalesce(history.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        cast(coalesce(history.net_revenue, 0) as decimal(18, 2)) as net_revenue,
        cast(coalesce(history.gross_revenue, 0) / nullif(coalesce(history.orders_count, 0), 0) as decimal(18, 2))
            as average_order_value,
        cast(coalesce(history.gross_revenue_last_365_days, 0) as decimal(18, 2)) as gross_revenue_last_365_days,
        cast(coalesce(history.refunded_amount_last_365_days, 0) as decimal(18, 2)) as refunded_amount_last_365_days,
        cast(coalesce(history.net_revenue_last_365_days, 0) as decimal(18, 2)) as net_revenue_last_365_days,

        -- preferences
        history.preferred_channel,
        history.preferred_category,
        -- discounted orders among the orders whose source carries discount data; null without any
        cast(
            coalesce(history.discounted_orders, 0) * 1.0 / nullif(coalesce(history.orders_with_discount_data, 0), 0)
            as decimal(9, 4)
        ) as discount_share,
        coalesce(history.orders_with_discount_data, 0) as orders_with_discount_data,

        -- problems
        cast(coalesce(history.refunded_amount, 0) / nullif(coalesce(history.gross_revenue, 0), 0) as decimal(9, 4)) as refund_rate,
        cast(
            coalesce(history.refunded_amount_last_365_days, 0) / nullif(coalesce(history.gross_revenue_last_365_days, 0), 0)
            as decimal(9, 4)
        ) as refund_rate_last_365_days,
        coalesce(history.disputes_count, 0) as disputes_count,
        coalesce(history.disputes_last_365_days, 0) as disputes_last_365_days,
        coalesce(history.support_complaints, 0) as support_complaints,
        coalesce(history.support_complaints_last_365_days, 0) as support_complaints_last_365_days,

        -- who and where (current values)
        grid.country_code,
        grid.city,
        ages.age_band,
        grid.gender,
        cast(grid.signup_at as date) as signup_date,
        grid.has_marketing_consent,

        -- engagement
        coalesce(history.engagement_events_last_30_days, 0) as engagement_events_last_30_days,
        coalesce(history.engagement_events_last_90_days, 0) as engagement_events_last_90_days,
        coalesce(history.sessions_last_30_days, 0) as sessions_last_30_days,
        -- each event's weight times (1 - days ago / 91): today counts fully, 90 days ago ~1%
        cast(
            coalesce(history.points_90, 0)
            - ({{ day_number('grid.as_of_date') }} * coalesce(history.points_90, 0) - coalesce(history.points_x_day_number_90, 0)) / 91.0
            as decimal(12, 4)
        ) as engagement_points_last_90_days,
        history.last_engagement_date
    from grid
    left join history
        on grid.customer_id = history.customer_id
        and grid.as_of_date = history.as_of_date
    left join ages
        on {{ age_in_years('grid.birth_date', 'grid.as_of_date') }} = ages.age_years
)

select * from final
