{#
    Intermediate models by touched key (materialization `touched_incremental`).

    The staging models follow landed files (file_incremental): a daily run restages one day's
    files. The intermediate models above them group rows by a key (a visitor, a record
    identifier, a customer) and were rebuilt over every row whatever changed: at 10M
    transactions the seven of them took 83 s of the 133 s of model time of a daily run in
    which one day's files arrived, and 25–28 s as increments (docs/performance.md, thirteenth
    session).

    A model of this kind recomputes only the keys that new files touch:

    - it follows the file versions of its `touched_inputs` (file_incremental staging models, by
      name) as meta.dbt_file_increments lists them, and keeps the versions it has consumed in
      meta.dbt_touched_increments;
    - when every version it consumed is still there (files were only added), the model's
      fingerprint is unchanged and its guard (below) finds nothing, the new files' versions are
      the *fresh files* (a temp table of input, source_file), the model's `touched_keys`
      query lists the keys they touch, the rows of those keys are deleted and
      the model's SQL, with every `touched_filter(expression)` marker keeping only the touched
      keys, is inserted;
    - anything else (a file reloaded or unloaded, a new fingerprint, no table or no state yet,
      --full-refresh) rebuilds the whole table, as a `table` model does.

    A key's rows must depend only on input rows that carry that key, so that recomputing the
    touched keys from all input rows gives what a rebuild gives (tests/dbt/
    test_dbt_touched_incremental.py: incremental equals rebuild, row for row).

    Configuration:
    - touched_inputs: names of the file_incremental models whose new files are followed;
    - touched_key: the model's key column; the rows whose value is in the touched set are
      replaced;
    - touched_keys: the name of a query in macros/touched_keys.sql (touched_query) that, given
      the fresh-files relation, lists the touched keys in one column `touched_key`;
    - touched_guard (optional): the name of a query there giving one count; when it is above
      zero the model is rebuilt (a change the touched keys cannot describe);
    - touched_stamp (optional): {'column': c, 'compare': k}: column c holds the build's time
      (current_timestamp) in the model's SQL; an increment keeps a recomputed row's old c
      when its k did not change, so c says when k last changed (int_customer_identity's
      keyed_at: models above it find the customers rekeyed since their own last build);
    - touched_log (optional): a column (customer_key, or the key itself): an increment logs
      the old and the new value of every row it recomputes in meta.dbt_touched_log (model,
      value, logged_at), so a model above it recomputes those customers or keys (values logged
      since its own last build);
    - touched_snapshot (optional): names of small models whose rows the touched keys compare
      with the copy taken at this model's last build (touched_snapshot_relation(name)), e.g.
      the fx rates: only the transactions of the dates whose rate changed are recomputed;
    - touched_watch (optional): names of other models read whole (stg_crm__contacts, the key
      secret, the segment settings): a digest of their rows is part of the fingerprint, so
      any change to them rebuilds.

    The fingerprint covers the model's compiled SQL, the checksums of the models it reads,
    the digests of the watched models and when each upstream `touched_incremental` model was
    last rebuilt whole. A change in a macro that only an upstream table renders is not seen,
    nor a table rewritten by something else: empty meta.dbt_touched_increments (or run dbt
    with --full-refresh) after either (docs/operations.md). DuckDB-only, like
    file_incremental.
#}

{% macro touched_state_relation(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema='meta', identifier='dbt_touched_increments', type='table')) }}
{%- endmacro %}


{# The state table's DDL, run once per dbt invocation (on-run-start), as file_increment_state_ddl. #}
{% macro touched_state_ddl(state=none) -%}
    {%- set state = state or touched_state_relation(api.Relation.create(database=target.database)) -%}
    create schema if not exists {{ state.database }}.{{ state.schema }};
    create table if not exists {{ state }} (
        model varchar, fingerprint varchar, rebuilt_at timestamp, built_at timestamp, input varchar,
        input_fingerprint varchar, source_file varchar, loaded_at timestamp, row_count bigint
    );
    create table if not exists {{ touched_log_relation(state) }} (
        model varchar, value varchar, logged_at timestamp
    )
{%- endmacro %}


{# The log of the values of a `touched_log` column that increments changed (see the header). #}
{% macro touched_log_relation(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema='meta', identifier='dbt_touched_log', type='table')) }}
{%- endmacro %}


{# The copy of `upstream` (a model name) as this model last read it (config touched_snapshot). #}
{% macro touched_snapshot_relation(upstream) -%}
    {{ return(api.Relation.create(database=this.database, schema='meta', identifier='dbt_touched_snapshot__' ~ this.identifier ~ '__' ~ upstream, type='table')) }}
{%- endmacro %}


{#
    A predicate keeping the rows of touched keys: `expression` is the key as the model computes
    it at that point. With `within` (a query of one column), it keeps the rows whose
    `expression` is in that query's result instead: rows that lead to touched keys further on
    (int_customer_engagement_days: the events of the visitors of touched customers). Outside an
    increment (a rebuild, dbt compile, dbt show) it keeps every row.
#}
{% macro touched_filter(expression, within=none) -%}
    {%- if within is none -%}
        true /* touched_filter( {{ expression }} ) */
    {%- else -%}
        true /* touched_within( {{ expression }} | {{ within }} ) */
    {%- endif -%}
{%- endmacro %}


{# `sql` with every touched_filter marker keeping only the keys in `touched_table`. #}
{% macro touched_filter_sql(sql, touched_table) -%}
    {%- set parts = sql.split('true /* touched_filter( ') -%}
    {%- set out = [parts[0]] -%}
    {%- for part in parts[1:] -%}
        {%- set pieces = part.split(' ) */', 1) -%}
        {%- do out.append('(' ~ pieces[0] ~ ') in (select touched_key from ' ~ touched_table ~ ')' ~ pieces[1]) -%}
    {%- endfor -%}
    {%- set parts = (out | join('')).split('true /* touched_within( ') -%}
    {%- set out = [parts[0]] -%}
    {%- for part in parts[1:] -%}
        {%- set pieces = part.split(' ) */', 1) -%}
        {%- set filter = pieces[0].split(' | ', 1) -%}
        {%- do out.append('(' ~ filter[0] ~ ') in (' ~ filter[1] ~ ')' ~ pieces[1]) -%}
    {%- endfor -%}
    {{ out | join('') }}
{%- endmacro %}


{# The relation of a model of this project by name. #}
{% macro touched_model_relation(model_name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == model_name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(model.name ~ ': touched_incremental names no model called ' ~ model_name) }}
{%- endmacro %}


{# 'schema.identifier' of a model, as meta.dbt_file_increments and meta.dbt_touched_increments name it. #}
{% macro touched_model_name(relation) -%}
    {{ relation.schema ~ '.' ~ relation.identifier }}
{%- endmacro %}


{#
    Into `parts`: the checksum of every model `node` reads and, for an upstream
    touched_incremental model, when it was last rebuilt whole. Through a view (fct_transactions
    over int_transactions_unified) to the models the view reads: a view holds no rows of its
    own, so a rebuild below it changes what this model reads.
#}
{% macro touched_upstream_parts(node, state, parts) -%}
    {%- for node_id in node.depends_on.nodes | sort -%}
        {%- set upstream = graph.nodes.get(node_id) -%}
        {%- if upstream is not none and upstream.resource_type == 'model' -%}
            {%- do parts.append(node_id ~ '=' ~ upstream.checksum.checksum) -%}
            {%- if upstream.config.materialized == 'touched_incremental' -%}
                {%- set name = upstream.schema ~ '.' ~ upstream.alias -%}
                {%- set rebuilt = run_query("select max(rebuilt_at) from " ~ state ~ " where model = '" ~ name ~ "' and input is null").columns[0].values()[0] -%}
                {%- do parts.append(name ~ ' rebuilt ' ~ rebuilt) -%}
            {%- elif upstream.config.materialized in ('view', 'ephemeral') -%}
                {%- do touched_upstream_parts(upstream, state, parts) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{# The fingerprint of the model as it is built now (see the header). #}
{% macro touched_fingerprint(node, sql, state) -%}
    {%- set parts = [sql] -%}
    {%- do touched_upstream_parts(node, state, parts) -%}
    {%- for watched in config.get('touched_watch', []) -%}
        {%- set relation = touched_model_relation(watched) -%}
        {%- set digest = run_query("select count(*) || ':' || coalesce(sum(hash(watched)), 0) from " ~ relation ~ " as watched").columns[0].values()[0] -%}
        {%- do parts.append(watched ~ ' ' ~ digest) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}


{% materialization touched_incremental, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set state = touched_state_relation(this) -%}
    {%- set file_state = file_increment_state_relation(this) -%}
    {%- set model_name = touched_model_name(this) -%}
    {%- set key = config.require('touched_key') -%}
    {%- set stamp = config.get('touched_stamp') -%}
    {%- set log_column = config.get('touched_log') -%}
    {%- set log_relation = touched_log_relation(this) -%}
    {%- set inputs = [] -%}
    {%- for name in config.require('touched_inputs') -%}
        {%- do inputs.append(touched_model_name(touched_model_relation(name))) -%}
    {%- endfor -%}
    {%- set suffix = this.identifier -%}
    {%- set fresh_table = 'touched_fresh_files_' ~ suffix -%}
    {%- set touched_table = 'touched_keys_' ~ suffix -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if adapter.get_relation(state.database, state.schema, state.identifier) is none %}
        {% do run_query(touched_state_ddl(state)) %}
    {% endif %}
    {%- set fingerprint = touched_fingerprint(model, compiled_code, state) -%}

    {#- the versions of the input files now: what their staging tables hold -#}
    {% call statement('touched_versions') -%}
        create or replace temp table touched_versions_{{ suffix }} as
        select model as input, fingerprint as input_fingerprint, source_file, loaded_at, row_count
        from {{ file_state }}
        where source_file is not null
          and {% if inputs %}model in ({% for name in inputs %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}){% else %}false{% endif %}
    {%- endcall %}

    {%- set reason = none -%}
    {%- if existing_relation is none or existing_relation.is_view -%}
        {%- set reason = 'no table yet' -%}
    {%- elif should_full_refresh() -%}
        {%- set reason = 'full refresh' -%}
    {%- else -%}
        {%- set built_with = run_query("select count(*) from " ~ state ~ " where model = '" ~ model_name ~ "' and input is null and fingerprint = '" ~ fingerprint ~ "'").columns[0].values()[0] -%}
        {%- if built_with == 0 -%}
            {%- set reason = 'new fingerprint' -%}
        {%- endif -%}
    {%- endif -%}
    {#- when this model was last built (for keys stamped upstream since then) -#}
    {%- set since = "(select max(built_at) from " ~ state ~ " where model = '" ~ model_name ~ "' and input is null)" -%}
    {%- set known = "select input, input_fingerprint, source_file, loaded_at, row_count from " ~ state ~ " where model = '" ~ model_name ~ "' and input is not null" -%}
    {%- set missing_copies = [] -%}
    {%- for upstream in config.get('touched_snapshot', []) -%}
        {%- set copy = touched_snapshot_relation(upstream) -%}
        {%- if adapter.get_relation(copy.database, copy.schema, copy.identifier) is none -%}
            {%- do missing_copies.append(upstream) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if reason is none and missing_copies -%}
        {%- set reason = 'no copy of ' ~ missing_copies | join(', ') ~ ' yet' -%}
    {%- endif -%}
    {%- if reason is none -%}
        {%- set stale = run_query("select count(*) from (" ~ known ~ " except select * from touched_versions_" ~ suffix ~ ")").columns[0].values()[0] -%}
        {%- if stale > 0 -%}
            {%- set reason = stale ~ ' file version(s) reloaded or unloaded' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if reason is none -%}
        {% call statement('touched_fresh') -%}
            create or replace temp table {{ fresh_table }} as
            select distinct input, source_file from (
                select * from touched_versions_{{ suffix }} except {{ known }}
            ) as fresh
        {%- endcall %}
        {%- if config.get('touched_guard') -%}
            {%- set guard_sql = touched_query(config.get('touched_guard'), fresh_table, since) -%}
            {%- set guarded = run_query(guard_sql).columns[0].values()[0] -%}
            {%- if guarded > 0 -%}
                {%- set reason = 'guard ' ~ config.get('touched_guard') ~ ' found ' ~ guarded -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}

    {% if reason is not none %}
        {{ log(this.identifier ~ ': rebuilt whole (' ~ reason ~ ')', info=False) }}
        {% do replace_whole_table(existing_relation, target_relation, compiled_code) %}
        {%- set rebuilt_at = "current_timestamp" -%}
    {% else %}
        {%- set touched_sql = touched_query(config.require('touched_keys'), fresh_table, since) -%}
        {% call statement('touched_keys') -%}
            create or replace temp table {{ touched_table }} as
            select distinct touched_key from ({{ touched_sql }}) as touched
            where touched_key is not null
        {%- endcall %}
        {%- set touched_count = run_query("select count(*) from " ~ touched_table).columns[0].values()[0] -%}
        {{ log(this.identifier ~ ': ' ~ touched_count ~ ' touched key(s) to recompute', info=False) }}
        {% call statement('main') -%}
            {% if touched_count > 0 %}
            create or replace temp table touched_rows_{{ suffix }} as
            {{ touched_filter_sql(compiled_code, touched_table) }};
            {% if stamp %}
            update touched_rows_{{ suffix }} as recomputed
            set {{ stamp.column }} = previous.{{ stamp.column }}
            from {{ target_relation }} as previous
            where previous.{{ key }} = recomputed.{{ key }}
                and previous.{{ stamp.compare }} is not distinct from recomputed.{{ stamp.compare }};
            {% endif %}
            {% if log_column %}
            insert into {{ log_relation }}
            select distinct '{{ model_name }}', value, current_timestamp from (
                select {{ log_column }} as value from {{ target_relation }}
                where {{ key }} in (select touched_key from {{ touched_table }})
                union all
                select {{ log_column }} from touched_rows_{{ suffix }}
            ) as changed
            where value is not null;
            {% endif %}
            delete from {{ target_relation }}
            where {{ key }} in (select touched_key from {{ touched_table }});
            insert into {{ target_relation }} by name
            select * from touched_rows_{{ suffix }};
            drop table touched_rows_{{ suffix }};
            {% endif %}
            drop table {{ touched_table }};
            drop table {{ fresh_table }};
            select 1
        {%- endcall %}
        {%- set rebuilt_at = "(select max(rebuilt_at) from " ~ state ~ " where model = '" ~ model_name ~ "' and input is null)" -%}
    {% endif %}

    {% call statement('touched_state_update') -%}
        create or replace temp table touched_rebuilt_{{ suffix }} as select {{ rebuilt_at }} as rebuilt_at;
        delete from {{ state }} where model = '{{ model_name }}';
        insert into {{ state }}
        select '{{ model_name }}', '{{ fingerprint }}', rebuilt_at, current_timestamp, null, null, null, null, null
        from touched_rebuilt_{{ suffix }}
        union all
        select '{{ model_name }}', '{{ fingerprint }}', null, null, input, input_fingerprint, source_file, loaded_at, row_count
        from touched_versions_{{ suffix }};
        drop table touched_versions_{{ suffix }};
        drop table touched_rebuilt_{{ suffix }};
        {#- a guard that forced a rebuild leaves the fresh files' list behind -#}
        drop table if exists {{ fresh_table }};
        {% if log_column %}
        {#- a rebuild rebuilds every model above (its rebuilt_at is in their fingerprints);
            entries older than every touched_incremental model's last build are read by none -#}
        delete from {{ log_relation }}
        where model = '{{ model_name }}'
            and ({{ 'true' if reason is not none else 'false' }}
                or logged_at < (select min(built_at) from {{ state }} where input is null));
        {% endif %}
        {% for upstream in config.get('touched_snapshot', []) %}
        create or replace table {{ touched_snapshot_relation(upstream) }} as
        select * from {{ touched_model_relation(upstream) }};
        {% endfor %}
        select 1
    {%- endcall %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
