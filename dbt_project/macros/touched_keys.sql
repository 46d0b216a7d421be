{#
    What new files touch, for the `touched_incremental` models (macros/touched_incremental.sql):
    each `*_touched_keys` macro renders a query of the keys (column touched_key) whose rows the
    files in `fresh` (input, source_file) change; each `*_guard` a count of changes the keys
    cannot describe (the model is then rebuilt whole).
#}

{# The staging models whose new files the identity models (int_identifiers_observed,
   int_customer_identity, int_customer_aliases) follow: every source of a record. #}
{% macro identity_touched_inputs() -%}
    {{ return([
        'stg_shopify__orders', 'stg_stripe__charges', 'stg_paypal__payments',
        'stg_generic__transaction_lines', 'stg_events__events', 'stg_support__tickets',
    ]) }}
{%- endmacro %}


{# The query `name` (a model's touched_keys or touched_guard config) over `fresh`, and `since`: a SQL
   expression of when the model was last built. #}
{% macro touched_query(name, fresh, since) -%}
    {%- if name == 'event_visitors_touched_keys' -%}
        {{ event_visitors_touched_keys(fresh) }}
    {%- elif name == 'generic_receipts_touched_keys' -%}
        {{ generic_receipts_touched_keys(fresh) }}
    {%- elif name == 'identifiers_observed_touched_keys' -%}
        {{ identifiers_observed_touched_keys(fresh) }}
    {%- elif name == 'customer_identity_touched_keys' -%}
        {{ customer_identity_touched_keys(fresh, since) }}
    {%- elif name == 'transactions_unified_touched_keys' -%}
        {{ transactions_unified_touched_keys(fresh, since) }}
    {%- elif name == 'customer_purchase_days_touched_keys' -%}
        {{ customer_purchase_days_touched_keys(fresh, since) }}
    {%- elif name == 'customer_aliases_touched_keys' -%}
        {{ customer_aliases_touched_keys(fresh, since) }}
    {%- elif name == 'customer_engagement_days_touched_keys' -%}
        {{ customer_engagement_days_touched_keys(fresh, since) }}
    {%- elif name == 'dim_customers_touched_keys' -%}
        {{ dim_customers_touched_keys(fresh, since) }}
    {%- elif name == 'customer_source_ids_touched_keys' -%}
        {{ customer_source_ids_touched_keys(fresh, since) }}
    {%- elif name == 'receipts_across_files_guard' -%}
        {{ receipts_across_files_guard(fresh) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": no touched query named '" ~ name ~ "' in macros/touched_keys.sql") }}
    {%- endif -%}
{%- endmacro %}

{# int_generic_receipts: the receipts with a line in a new file. #}
{% macro generic_receipts_touched_keys(fresh) -%}
    select {{ generic_transaction_key('source_name', 'transaction_id') }} as touched_key
    from {{ ref('stg_generic__transaction_lines') }}
    where _source_file in (select source_file from {{ fresh }})
{%- endmacro %}


{# int_event_visitors: the visitors with an event in a new file. #}
{% macro event_visitors_touched_keys(fresh) -%}
    select visitor_id as touched_key
    from {{ ref('stg_events__events') }}
    where _source_file in (select source_file from {{ fresh }})
{%- endmacro %}


{#
    int_identifiers_observed: the record identifiers of the new files' transactions, of the
    visitors they touch (an event record is its visitor's email) and of their support tickets.
    CRM contacts are not followed by file: stg_crm__contacts is watched whole.
#}
{% macro identifiers_observed_touched_keys(fresh) -%}
    select {{ identifier_id('record_identifier') }} as touched_key
    from {{ ref('int_transactions_unioned') }}
    where _source_file in (select source_file from {{ fresh }})
    union all
    select {{ identifier_id(identifier("'email'", 'customer_email')) }}
    from {{ ref('int_event_visitors') }}
    where customer_email is not null
      and visitor_id in (
          select visitor_id from {{ ref('stg_events__events') }}
          where _source_file in (select source_file from {{ fresh }})
      )
    union all
    select {{ identifier_id(identifier("'email'", 'customer_email')) }}
    from {{ ref('stg_support__tickets') }}
    where customer_email is not null
      and _source_file in (select source_file from {{ fresh }})
{%- endmacro %}


{#
    The values (column `value`) that the increments of the models named in `models` logged in
    meta.dbt_touched_log since `since` (config touched_log): what a model above them follows.
#}
{% macro touched_logged_values(models, since) -%}
    select value
    from {{ touched_log_relation(this) }}
    where model in ({% for name in models %}'{{ touched_model_name(touched_model_relation(name)) }}'{{ ", " if not loop.last }}{% endfor %})
        and logged_at > {{ since }}
{%- endmacro %}


{#
    The record identifiers int_identifiers_observed recomputed since `since` (its touched keys,
    which its increments log): what int_customer_identity and int_customer_aliases follow,
    instead of computing them from the new files again (~2 s each at 10M transactions). A
    rebuild of int_identifiers_observed logs nothing: it rebuilds both (their fingerprints).
#}
{% macro observed_touched_records(since) -%}
    select cast(value as {{ identifier_id_type() }}) as touched_key
    from ({{ touched_logged_values(['int_identifiers_observed'], since) }}) as logged
{%- endmacro %}


{#
    int_customer_identity: the identifiers of the touched records (int_identifiers_observed's
    touched keys) and every identifier of the customers they belong to now. Links are only
    added while files are only added (a reload, a changed CRM contact or a receipt across files
    rebuild int_identifiers_observed, and so this model), so a customer only grows by merging:
    this set holds whole customers of the new graph.
#}
{% macro customer_identity_touched_keys(fresh, since) -%}
    with
    touched_records as (
        {{ observed_touched_records(since) }}
    ),
    touched_identifiers as (
        select distinct identifier_id
        from {{ ref('int_identifiers_observed') }}
        where record_identifier_id in (select touched_key from touched_records)
    )
    select identifier_id as touched_key from touched_identifiers
    union all
    select identifier_id
    from {{ this }}
    where customer_key in (
        select customer_key from {{ this }}
        where identifier_id in (select identifier_id from touched_identifiers)
    )
{%- endmacro %}


{#
    int_transactions_unified: the transactions of new files, the PayPal payments a new reversal
    refers to and the generic receipts with a new line; those whose record identifier was
    rekeyed since the model's last build (`since`); and those of the currencies and dates whose
    daily rate changed since then (int_fx_rates_daily against the copy taken at that build:
    from the first changed date on, or every date when the currency's first rate changed,
    since earlier transactions convert at the first rate).
#}
{% macro transactions_unified_touched_keys(fresh, since) -%}
    with
    fx_now as (
        select * from {{ ref('int_fx_rates_daily') }}
    ),
    fx_before as (
        select * from {{ touched_snapshot_relation('int_fx_rates_daily') }}
    ),
    fx_changed_rows as (
        (select * from fx_now except select * from fx_before)
        union all
        (select * from fx_before except select * from fx_now)
    ),
    fx_first_dates as (
        select currency, min(rate_date) as first_rate_date
        from (select currency, rate_date from fx_now union all select currency, rate_date from fx_before) as both_copies
        group by currency
    ),
    fx_changes as (
        select
            fx_changed_rows.currency,
            case
                when min(fx_changed_rows.rate_date) <= min(fx_first_dates.first_rate_date)
                    then cast('0001-01-01' as date)
                else min(fx_changed_rows.rate_date)
            end as changed_from
        from fx_changed_rows
        inner join fx_first_dates on fx_changed_rows.currency = fx_first_dates.currency
        group by fx_changed_rows.currency
    ),
    rekeyed as (
        select identifier_id
        from {{ ref('int_customer_identity') }}
        where keyed_at > {{ since }}
    )
    select transactions.transaction_key as touched_key
    from {{ ref('int_transactions_unioned') }} as transactions
    left join fx_changes
        on transactions.currency = fx_changes.currency
        and transactions.transaction_date >= fx_changes.changed_from
    where transactions._source_file in (select source_file from {{ fresh }})
        or fx_changes.currency is not null
        or {{ identifier_id('transactions.record_identifier') }} in (select identifier_id from rekeyed)
    union all
    select 'paypal:' || payment_transaction_id
    from {{ ref('stg_paypal__reversals') }}
    where _source_file in (select source_file from {{ fresh }})
    union all
    select {{ generic_transaction_key('source_name', 'transaction_id') }}
    from {{ ref('stg_generic__transaction_lines') }}
    where _source_file in (select source_file from {{ fresh }})
{%- endmacro %}


{#
    int_customer_purchase_days: the customers (old and new keys) whose transactions
    int_transactions_unified changed since this model's last build.
#}
{% macro customer_purchase_days_touched_keys(fresh, since) -%}
    select {{ identifier_id('value') }} as touched_key
    from ({{ touched_logged_values(['int_transactions_unified'], since) }}) as logged
{%- endmacro %}


{#
    int_customer_aliases (alias_id): the identifiers of the touched records (their per-source
    first/last seen and counts changed) and those rekeyed since this model's last build; the
    browsers of the visitors with an event in a new file or whose email was rekeyed.
#}
{% macro customer_aliases_touched_keys(fresh, since) -%}
    with
    touched_records as (
        {{ observed_touched_records(since) }}
    ),
    rekeyed as (
        select identifier_id from {{ ref('int_customer_identity') }}
        where keyed_at > {{ since }}
    ),
    new_event_visitors as (
        select visitor_id from {{ ref('stg_events__events') }}
        where _source_file in (select source_file from {{ fresh }})
    )
    select identifier_id as touched_key
    from {{ ref('int_identifiers_observed') }}
    where record_identifier_id in (select touched_key from touched_records)
    union all
    select identifier_id from rekeyed
    union all
    select {{ identifier_id(identifier("'anonymous_id'", 'anonymous_id')) }}
    from {{ ref('int_event_visitors') }}
    where anonymous_id is not null
        and (
            visitor_id in (select visitor_id from new_event_visitors)
            or {{ identifier_id(identifier("'email'", 'customer_email')) }} in (select identifier_id from rekeyed)
        )
{%- endmacro %}


{#
    int_customer_engagement_days (customer_id): the customers, old and new keys, whose
    identifiers (int_customer_identity) or browsers (int_customer_aliases) were recomputed since
    this model's last build. A visitor with a new event is among them: its email is a touched
    record of int_customer_identity, its browser a touched alias.
#}
{% macro customer_engagement_days_touched_keys(fresh, since) -%}
    select {{ identifier_id('value') }} as touched_key
    from ({{ touched_logged_values(['int_customer_identity', 'int_customer_aliases'], since) }}) as logged
{%- endmacro %}


{#
    dim_customers (customer_key): the customers, old and new keys, whose identifiers
    (int_customer_identity) or transactions (int_transactions_unified, under fct_transactions)
    were recomputed since this model's last build. CRM contacts are watched whole.
#}
{% macro dim_customers_touched_keys(fresh, since) -%}
    select value as touched_key
    from ({{ touched_logged_values(['int_customer_identity', 'int_transactions_unified'], since) }}) as logged
{%- endmacro %}


{#
    customer_source_ids (customer_key): the customers, old and new keys, whose aliases
    (int_customer_aliases) were recomputed since this model's last build.
#}
{% macro customer_source_ids_touched_keys(fresh, since) -%}
    select value as touched_key
    from ({{ touched_logged_values(['int_customer_aliases'], since) }}) as logged
{%- endmacro %}


{#
    A generic receipt whose lines are in a new file and in an older one: its largest line, and
    so its record identifier, may have changed, and the old one is not among the touched keys.
#}
{% macro receipts_across_files_guard(fresh) -%}
    select count(*) from (
        select
            lines.source_name,
            lines.transaction_id
        from {{ ref('stg_generic__transaction_lines') }} as lines
        left join (select distinct source_file from {{ fresh }}) as fresh_files
            on lines._source_file = fresh_files.source_file
        group by lines.source_name, lines.transaction_id
        having bool_or(fresh_files.source_file is not null)
            and not bool_and(fresh_files.source_file is not null)
    ) as receipts
{%- endmacro %}
