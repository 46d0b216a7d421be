{#
    History in batches (materializations `as_of_table`, `as_of_incremental`).

    A first refresh computes ~60 as-of dates; the customer histories and customer_facts hold one
    row per customer per date, and one aggregation over all of them outgrows DuckDB's memory
    limit at 10M transactions (customer_facts spilled ~29 GB and took 15 min). A model built
    with one of these materializations runs in batches that each hold at most
    `as_of_batch_rows` (env SEGMENTS_AS_OF_BATCH_ROWS) customers x dates: the first batch
    creates the table, the others insert into it, then the table replaces the old one as a
    `table` model does. A run whose rows fit in one batch (every daily run, and a first refresh
    of a small shop) runs the model's SQL once, unchanged.

    Two ways to cut a run into batches (config `as_of_batch_by`):

    - `as_of_date` (the default): consecutive ranges of the run's as-of dates, for models whose
      rows of a date do not depend on other dates' rows (customer_facts, rfm_scores: ranks
      across the customers of a date). The model marks where it reads the run's dates with
      `as_of_batch_filter(column)`.
    - `customer`: ranges of customer_id (identifier_id(customer_key), a 64-bit hash, so equal
      ranges hold about equal numbers of customers), every as-of date in each, for the customer
      histories: their running totals read all of a customer's earlier activity, so a batch of
      late dates would redo the whole history before it, and batches of dates cost
      (batches x history), quadratic in the data (at 30M transactions the purchase history took
      25 min in 29 date batches). The model marks where it reads customer rows with
      `customer_batch_filter(column)`. Each batch's rows are written in as-of-date order, so
      readers that take a few dates at a time (customer_facts in date batches) skip the other
      dates' row groups by their min/max statistics.

    Outside these materializations (dbt compile, dbt show) both markers keep every row.
#}

{% macro as_of_batch_marker() -%}
    /* as_of_batch */ cast('0001-01-01' as date) and cast('9999-12-31' as date)
{%- endmacro %}


{# A predicate keeping `column` (a date) inside the current batch of as-of dates. #}
{% macro as_of_batch_filter(column) -%}
    {{ column }} between {{ as_of_batch_marker() }}
{%- endmacro %}


{# The full range of customer_id values (identifier_id): [lowest, highest], as integers. #}
{% macro customer_id_range() -%}
    {{ return(adapter.dispatch('customer_id_range', 'segments')()) }}
{%- endmacro %}

{% macro default__customer_id_range() -%}
    {#- xxhash64: a signed 64-bit integer -#}
    {{ return([-9223372036854775808, 9223372036854775807]) }}
{%- endmacro %}

{% macro duckdb__customer_id_range() -%}
    {#- hash(): an unsigned 64-bit integer -#}
    {{ return([0, 18446744073709551615]) }}
{%- endmacro %}


{# A customer_id value as a SQL literal of identifier_id's type. #}
{% macro customer_id_literal(value) -%}
    {{ return(adapter.dispatch('customer_id_literal', 'segments')(value)) }}
{%- endmacro %}

{% macro default__customer_id_literal(value) -%}
    cast({{ value }} as bigint)
{%- endmacro %}

{% macro duckdb__customer_id_literal(value) -%}
    cast({{ value }} as ubigint)
{%- endmacro %}


{% macro customer_batch_marker() -%}
    {%- set bounds = customer_id_range() -%}
    /* customer_batch */ {{ customer_id_literal(bounds[0]) }} and {{ customer_id_literal(bounds[1]) }}
{%- endmacro %}


{# A predicate keeping `column` (a customer_id) inside the current batch of customers. #}
{% macro customer_batch_filter(column) -%}
    {{ column }} between {{ customer_batch_marker() }}
{%- endmacro %}


{#
    The model's SQL for one batch: the markers' bounds replaced by the batch's (batch.dates:
    [first, last] as-of date; batch.customers: [lowest, highest] customer_id; none keeps all).
#}
{% macro as_of_batch_sql(sql, batch) -%}
    {%- if batch.dates -%}
        {%- set sql = sql | replace(as_of_batch_marker(), "cast('" ~ batch.dates[0] ~ "' as date) and cast('" ~ batch.dates[1] ~ "' as date)") -%}
    {%- endif -%}
    {%- if batch.customers -%}
        {%- set sql = sql | replace(customer_batch_marker(), "/* customer_batch */ " ~ customer_id_literal(batch.customers[0]) ~ " and " ~ customer_id_literal(batch.customers[1])) -%}
    {%- endif -%}
    {{ sql }}
{%- endmacro %}


{# The SQL to insert one batch with: several customer batches each in as-of-date order. #}
{% macro as_of_batch_insert_sql(sql, batch, batches) -%}
    {%- if batch.customers and batches | length > 1 -%}
        select * from ({{ as_of_batch_sql(sql, batch) }}) as batch_rows order by as_of_date
    {%- else -%}
        {{ as_of_batch_sql(sql, batch) }}
    {%- endif -%}
{%- endmacro %}


{#
    The run's batches: with `by` = 'as_of_date', its as-of dates (from the model
    `dates_model`, default stg_meta__run_as_of_dates) in consecutive [first, last] ranges of at
    most `as_of_batch_rows` / customers dates each (at least one date per batch); with `by` =
    'customer', ceil(customers x dates / `as_of_batch_rows`) equal ranges of customer_id, every
    date in each. Customers: the distinct customer keys of int_customer_identity, an upper
    bound on the rows any history has per date.
#}
{% macro as_of_batches(by='as_of_date', dates_model='stg_meta__run_as_of_dates', population_model='int_customer_identity') -%}
    {#- a model whose batch holds more per row (customer_facts: three hash joins and an
        aggregation in one statement) takes a share of the budget (config as_of_batch_share) -#}
    {%- set share = config.get('as_of_batch_share', 1) | float -%}
    {%- set budget = [((env_var('SEGMENTS_AS_OF_BATCH_ROWS', '') or var('as_of_batch_rows')) | int * share) | int, 1] | max -%}
    {%- set dates_relation = as_of_relation(dates_model) -%}
    {%- set population_relation = as_of_relation(population_model) -%}
    {%- set dates = run_query('select as_of_date from ' ~ dates_relation ~ ' order by as_of_date').columns[0].values() -%}
    {%- set customers = [run_query('select count(distinct customer_key) from ' ~ population_relation).columns[0].values()[0] | int, 1] | max -%}
    {%- set batches = [] -%}
    {%- if by == 'customer' -%}
        {%- set count = [(customers * (dates | length) + budget - 1) // budget, 1] | max -%}
        {%- if count == 1 -%}
            {%- do batches.append({'dates': none, 'customers': none}) -%}
        {%- else -%}
            {%- set bounds = customer_id_range() -%}
            {%- set width = (bounds[1] - bounds[0] + 1) // count -%}
            {%- for index in range(count) -%}
                {%- set lowest = bounds[0] + index * width -%}
                {%- set highest = bounds[1] if loop.last else lowest + width - 1 -%}
                {%- do batches.append({'dates': none, 'customers': [lowest, highest]}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set described = 'batch(es) of customers' -%}
    {%- elif by == 'as_of_date' -%}
        {%- set per_batch = [budget // customers, 1] | max -%}
        {%- for batch in dates | batch(per_batch) -%}
            {%- do batches.append({'dates': [batch[0], batch[-1]], 'customers': none}) -%}
        {%- endfor -%}
        {%- if not batches -%}
            {%- do batches.append({'dates': ['0001-01-01', '9999-12-31'], 'customers': none}) -%}
        {%- endif -%}
        {%- set described = 'batch(es) of at most ' ~ per_batch -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(this.identifier ~ ": as_of_batch_by is '" ~ by ~ "'; use 'as_of_date' or 'customer'") }}
    {%- endif -%}
    {{ log(this.identifier ~ ': ' ~ dates | length ~ ' as-of dates in ' ~ batches | length ~ ' ' ~ described ~ ' (' ~ customers ~ ' customers, ' ~ budget ~ ' rows per batch)', info=(batches | length > 1)) }}
    {{ return(batches) }}
{%- endmacro %}


{# The relation of a model of this project by name (it must be built already). #}
{% macro as_of_relation(model_name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == model_name -%}
        {{ return(node.relation_name) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('as_of_batches: no model named ' ~ model_name) }}
{%- endmacro %}


{% materialization as_of_table, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}

    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set batches = as_of_batches(config.get('as_of_batch_by', 'as_of_date')) -%}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, as_of_batch_insert_sql(compiled_code, batches[0], batches)) }}
    {%- endcall %}
    {% for batch in batches[1:] %}
        {% call statement('as_of_batch_' ~ loop.index) -%}
            insert into {{ intermediate_relation }} by name {{ as_of_batch_insert_sql(compiled_code, batch, batches) }}
        {%- endcall %}
    {% endfor %}

    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    The incremental counterpart (segment_profiles, segment_transitions: incremental on
    as_of_date, each date computed on its own): on a new table or --full-refresh it builds like
    `as_of_table`; on an existing table, per batch, it deletes the rows of the batch's run dates
    and inserts the batch's rows (delete+insert on `unique_key`, the as-of date column). New
    columns follow the model's on_schema_change, as dbt's incremental materialization does.

    A model that continues from its own earlier rows (segment_snapshots: change dates carry on
    from the last snapshot before the batch) reads `{{ this }}` on every build and declares the
    columns it reads in `as_of_reads_own_rows` ({column: type}). Its first build starts from an
    empty table of those columns, builds the first batch, then adds each later batch to the
    real table, so every batch sees the batches before it: the same rows as one pass.
#}
{% materialization as_of_incremental, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set date_column = config.require('unique_key') -%}
    {%- set dates_relation = as_of_relation('stg_meta__run_as_of_dates') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- set batches = as_of_batches() -%}

    {%- set own_rows = config.get('as_of_reads_own_rows') -%}
    {% if existing_relation is none or existing_relation.is_view or should_full_refresh() %}
        {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
        {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
        {%- set backup_relation = none -%}
        {% if existing_relation is not none %}
            {%- set backup_relation = make_backup_relation(target_relation, existing_relation.type) -%}
            {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
        {% endif %}
        {% if own_rows %}
            {% call statement('as_of_own_rows') -%}
                create table {{ target_relation }} (
                    {%- for column, type in own_rows.items() %}
                    {{ adapter.quote(column) }} {{ type }}{{ "," if not loop.last }}
                    {%- endfor %}
                )
            {%- endcall %}
        {% endif %}
        {% call statement('main') -%}
            {{ create_table_as(False, intermediate_relation, as_of_batch_sql(compiled_code, batches[0])) }}
        {%- endcall %}
        {% if not own_rows %}
            {% for batch in batches[1:] %}
                {% call statement('as_of_batch_' ~ loop.index) -%}
                    insert into {{ intermediate_relation }} by name {{ as_of_batch_sql(compiled_code, batch) }}
                {%- endcall %}
            {% endfor %}
        {% else %}
            {% call statement('as_of_own_rows_drop') -%}
                drop table {{ target_relation }}
            {%- endcall %}
        {% endif %}
        {{ adapter.rename_relation(intermediate_relation, target_relation) }}
        {% if own_rows %}
            {% for batch in batches[1:] %}
                {% call statement('as_of_batch_' ~ loop.index) -%}
                    insert into {{ target_relation }} by name {{ as_of_batch_sql(compiled_code, batch) }}
                {%- endcall %}
            {% endfor %}
        {% endif %}
        {% if backup_relation is not none %}
            {{ adapter.drop_relation(backup_relation) }}
        {% endif %}
        {% call statement('as_of_dates_written') -%}
            {{ log_as_of_dates_written(target_relation, dates_relation, rebuilt=true) }}
        {%- endcall %}
    {% else %}
        {#- the new schema, from the query's plan (no rows), for on_schema_change -#}
        {%- set schema_relation = make_intermediate_relation(target_relation, suffix='__dbt_schema') -%}
        {{ drop_relation_if_exists(load_cached_relation(schema_relation)) }}
        {% call statement('as_of_schema') -%}
            {{ create_table_as(False, schema_relation, 'select * from (' ~ as_of_batch_sql(compiled_code, batches[0]) ~ ') limit 0') }}
        {%- endcall %}
        {% do process_schema_changes(config.get('on_schema_change', 'ignore'), schema_relation, existing_relation) %}
        {{ adapter.drop_relation(schema_relation) }}
        {% for batch in batches %}
            {% call statement('main' if loop.first else 'as_of_batch_' ~ loop.index) -%}
                delete from {{ target_relation }}
                where {{ date_column }} in (
                    select as_of_date from {{ dates_relation }}
                    where as_of_date between cast('{{ batch.dates[0] }}' as date) and cast('{{ batch.dates[1] }}' as date)
                );
                insert into {{ target_relation }} by name {{ as_of_batch_sql(compiled_code, batch) }}
            {%- endcall %}
        {% endfor %}
        {% call statement('as_of_dates_written') -%}
            {{ log_as_of_dates_written(target_relation, dates_relation, rebuilt=false) }}
        {%- endcall %}
    {% endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    The write log of the as_of_incremental tables, for the publish (pipelines/defs/publish):
    meta.as_of_dates_written holds, per table and as-of date, a random id drawn every time
    the table's rows of that date are written (random, not a counter: a build database made
    again from the landing zone must not repeat the ids of the one before). The publish keeps
    each date's fingerprint with the id it saw, and hashes again only the dates written
    since: one date of the snapshot history instead of all 69M rows at 10M transactions.
    Written in the model's own transaction, so the log and the rows agree. A rebuilt table's
    earlier entries go: it now holds the run's dates only. A table that has history but no
    entries yet (built before the log existed) gets an id for every date it holds, so each
    is hashed once more and then kept.
#}
{% macro log_as_of_dates_written(relation, dates_relation, rebuilt) -%}
    {%- set name = relation.schema ~ '.' ~ relation.identifier -%}
    {%- set unlogged = not rebuilt -%}
    {%- if not rebuilt -%}
        {%- set log_exists = run_query(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            ~ "and schema_name = 'meta' and table_name = 'as_of_dates_written'"
        ).columns[0].values()[0] -%}
        {%- if log_exists -%}
            {%- set unlogged = run_query(
                "select count(*) = 0 from meta.as_of_dates_written where relation = '" ~ name ~ "'"
            ).columns[0].values()[0] -%}
        {%- endif -%}
    {%- endif %}
    create schema if not exists meta;
    create table if not exists meta.as_of_dates_written (
        relation varchar not null,
        as_of_date date not null,
        written_in varchar not null
    );
    delete from meta.as_of_dates_written
    where relation = '{{ name }}'
    {%- if not rebuilt %}
      and as_of_date in (select as_of_date from {{ dates_relation }})
    {%- endif %};
    insert into meta.as_of_dates_written
    select '{{ name }}', as_of_date, cast(uuid() as varchar)
    from {{ dates_relation }}
    {%- if unlogged %};
    insert into meta.as_of_dates_written
    select '{{ name }}', as_of_date, cast(uuid() as varchar)
    from (select distinct as_of_date from {{ relation }}) as held
    where as_of_date not in (
        select as_of_date from meta.as_of_dates_written where relation = '{{ name }}'
    )
    {%- endif %}
{%- endmacro %}
