-- RFM scores in one DuckDB query: the practical floor for the RFM part of the product.
--
-- Parameters: $transactions (CSV of net transactions: customer_key, transaction_date,
-- is_purchase, net_amount), $as_of (date), $lookback_days (integer).
-- One row per customer whose last purchase is at most $lookback_days before $as_of, scored
-- with the product's rule (dbt_project/models/marts/segments/rfm_scores.sql): frequency =
-- purchases and monetary = net amount over the window; score = 1 + floor(5 * (rank - 1) / n)
-- where rank() gives tied values the same rank, hence the same score.
with

transactions as (
    select *
    from read_csv(
        $transactions,
        header = true,
        columns = {
            'customer_key': 'varchar',
            'transaction_date': 'date',
            'is_purchase': 'boolean',
            'net_amount': 'decimal(18, 2)'
        }
    )
    where transaction_date <= $as_of::date
),

per_customer as (
    select
        customer_key,
        $as_of::date - max(case when is_purchase then transaction_date end) as recency_days,
        count(case when is_purchase and transaction_date >= $as_of::date - $lookback_days::integer then 1 end)
            as frequency,
        coalesce(
            sum(case when transaction_date >= $as_of::date - $lookback_days::integer then net_amount end), 0
        ) as monetary
    from transactions
    group by customer_key
),

population as (
    select * from per_customer
    where recency_days <= $lookback_days::integer
),

final as (
    select
        customer_key,
        recency_days,
        frequency,
        monetary,
        1 + 5 * (rank() over (order by recency_days desc) - 1) // count(*) over () as r_score,
        1 + 5 * (rank() over (order by frequency) - 1) // count(*) over () as f_score,
        1 + 5 * (rank() over (order by monetary) - 1) // count(*) over () as m_score
    from population
)

select * from final
