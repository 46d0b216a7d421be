{{ config(severity='warn') }}
-- All lines of one generic receipt share a currency, so its amounts can be summed. A returned
-- row is a receipt with lines in several currencies (only its largest line's currency is kept):
-- check the source's mapping.yml (currency column vs fixed currency).
with

lines as (
    select * from {{ ref('stg_generic__transaction_lines') }}
)

select
    source_name,
    transaction_id,
    count(distinct currency) as currencies
from lines
group by source_name, transaction_id
having count(distinct currency) > 1
