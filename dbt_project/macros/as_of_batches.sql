{#
    History in batches of as-of dates (materialization `as_of_table`).

    A first refresh computes ~60 as-of dates; the customer histories and customer_facts hold one
    row per customer per date, and one aggregation over all of them outgrows DuckDB's memory
    limit at 10M transactions (customer_facts spilled ~29 GB and took 15 min). An `as_of_table`
    model is built in consecutive batches of the run's as-of dates instead, so that
    (customers x dates of one batch) stays under `as_of_batch_rows` (env
    SEGMENTS_AS_OF_BATCH_ROWS): the first batch creates the table, the others insert into it,
    then the table replaces the old one as a `table` model does. A run whose dates fit in one
    batch (every daily run, and a first refresh of a small shop) runs the model's SQL once,
    unchanged.

    The model marks where it reads the run's dates with `as_of_batch_filter(column)`; each
    batch replaces the marker's bounds with its own first and last date. Outside this
    materialization (dbt compile, dbt show) the marker keeps every date.
#}

{% macro as_of_batch_marker() -%}
    /* as_of_batch */ cast('0001-01-01' as date) and cast('9999-12-31' as date)
{%- endmacro %}


{# A predicate keeping `column` (a date) inside the current batch of as-of dates. #}
{% macro as_of_batch_filter(column) -%}
    {{ column }} between {{ as_of_batch_marker() }}
{%- endmacro %}


{# The model's SQL for one batch: the marker's bounds replaced by the batch's dates. #}
{% macro as_of_batch_sql(sql, batch) -%}
    {{ sql | replace(as_of_batch_marker(), "cast('" ~ batch[0] ~ "' as date) and cast('" ~ batch[1] ~ "' as date)") }}
{%- endmacro %}


{#
    The run's as-of dates (from the model `dates_model`, default stg_meta__run_as_of_dates) in
    consecutive [first, last] batches of at most `as_of_batch_rows` / customers dates each
    (at least one date per batch). Customers: the distinct customer keys of
    int_customer_identity, an upper bound on the rows any history has per date.
#}
{% macro as_of_batches(dates_model='stg_meta__run_as_of_dates', population_model='int_customer_identity') -%}
    {%- set budget = env_var('SEGMENTS_AS_OF_BATCH_ROWS', '') or var('as_of_batch_rows') -%}
    {%- set dates_relation = as_of_relation(dates_model) -%}
    {%- set population_relation = as_of_relation(population_model) -%}
    {%- set dates = run_query('select as_of_date from ' ~ dates_relation ~ ' order by as_of_date').columns[0].values() -%}
    {%- set customers = run_query('select count(distinct customer_key) from ' ~ population_relation).columns[0].values()[0] -%}
    {%- set per_batch = [(budget | int) // ([customers | int, 1] | max), 1] | max -%}
    {%- set batches = [] -%}
    {%- for batch in dates | batch(per_batch) -%}
        {%- do batches.append([batch[0], batch[-1]]) -%}
    {%- endfor -%}
    {%- if not batches -%}
        {%- do batches.append(['0001-01-01', '9999-12-31']) -%}
    {%- endif -%}
    {{ log(this.identifier ~ ': ' ~ dates | length ~ ' as-of dates in ' ~ batches | length ~ ' batch(es) of at most ' ~ per_batch ~ ' (' ~ customers ~ ' customers, ' ~ budget ~ ' rows per batch)', info=(batches | length > 1)) }}
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

    {%- set batches = as_of_batches() -%}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, as_of_batch_sql(compiled_code, batches[0])) }}
    {%- endcall %}
    {% for batch in batches[1:] %}
        {% call statement('as_of_batch_' ~ loop.index) -%}
            insert into {{ intermediate_relation }} by name {{ as_of_batch_sql(compiled_code, batch) }}
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
                    where as_of_date between cast('{{ batch[0] }}' as date) and cast('{{ batch[1] }}' as date)
                );
                insert into {{ target_relation }} by name {{ as_of_batch_sql(compiled_code, batch) }}
            {%- endcall %}
        {% endfor %}
    {% endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
