{#
    Staging by landed file (materialization `file_incremental`).

    A staging model of this kind reads one raw table row by row (plus seeds): each of its rows
    comes from one raw row and carries that row's `_source_file`. The ingest loads a landed file
    once, and a changed file replaces all of its rows under a new `_loaded_at`; `segments
    unload` deletes a file's rows. So a file's rows in raw are identified by
    (_source_file, max(_loaded_at), count(*)), and the model only needs to redo the files whose
    version changed:

    - rows of files whose version is gone from raw (reloaded or unloaded) are deleted;
    - rows of files whose version is new are computed (the model's own SQL, filtered to those
      files) and inserted;
    - everything else stays as it is.

    The versions the table holds are kept in `meta.dbt_file_increments` (one row per model and
    file, plus a row with a null file saying which fingerprint the table was built with). The
    fingerprint covers the model's compiled SQL (every macro and setting rendered into it), the
    checksum of each seed it reads and the raw table's columns: when any of them changes, or the
    table or its state is missing, or on --full-refresh, the model is rebuilt whole, as a
    `table` model is. Either way the result equals a full rebuild row for row
    (tests/dbt/test_dbt_file_incremental.py).

    Only for models that read exactly one source and nothing but seeds besides; a model that
    compares rows across files (stg_crm__contacts, stg_fx__rates pick the latest record) stays
    a `table`. DuckDB-only, like as_of_table.
#}

{# The state table of this materialization, in the database of `relation`. #}
{% macro file_increment_state_relation(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema='meta', identifier='dbt_file_increments', type='table')) }}
{%- endmacro %}


{# The state table's DDL. Run once per dbt invocation (on-run-start in dbt_project.yml), not by
   each model: two models creating it at once in parallel threads is a DuckDB write-write
   conflict. #}
{% macro file_increment_state_ddl(state=none) -%}
    {%- set state = state or file_increment_state_relation(api.Relation.create(database=target.database)) -%}
    create schema if not exists {{ state.database }}.{{ state.schema }};
    create table if not exists {{ state }} (
        model varchar, fingerprint varchar, source_file varchar, loaded_at timestamp, row_count bigint
    )
{%- endmacro %}


{# [source relation, fingerprint] of the model, or a compiler error if it reads anything but
   one source and seeds. #}
{% macro file_increment_inputs(node, sql) -%}
    {%- set sources = [] -%}
    {%- set parts = [sql] -%}
    {%- for node_id in node.depends_on.nodes -%}
        {%- if node_id.startswith('source.') -%}
            {%- do sources.append(graph.sources[node_id]) -%}
        {%- elif node_id.startswith('seed.') -%}
            {%- do parts.append(node_id ~ '=' ~ graph.nodes[node_id].checksum.checksum) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(node.name ~ ': a file_incremental model reads one source and seeds only, not ' ~ node_id ~ '; materialize it as a table') }}
        {%- endif -%}
    {%- endfor -%}
    {%- if sources | length != 1 -%}
        {{ exceptions.raise_compiler_error(node.name ~ ': a file_incremental model reads exactly one source (it reads ' ~ sources | length ~ ')') }}
    {%- endif -%}
    {%- set source_relation = api.Relation.create(database=sources[0].database, schema=sources[0].schema, identifier=sources[0].identifier) -%}
    {%- for column in adapter.get_columns_in_relation(source_relation) -%}
        {%- do parts.append(column.name ~ ' ' ~ column.data_type) -%}
    {%- endfor -%}
    {{ return([source_relation, local_md5(parts | join('\n'))]) }}
{%- endmacro %}


{# The model's SQL reading `rows_table` instead of its source (the rows of the files to add).
   DuckDB does not push a filter on _source_file down through the staging SQL (the identifier
   clean-up plans as correlated subqueries), so the source itself is swapped. #}
{% macro file_increment_sql(sql, source_relation, rows_table) -%}
    {%- set name = source_relation.render() -%}
    {%- if name not in sql -%}
        {{ exceptions.raise_compiler_error(model.name ~ ': file_incremental could not find its source ' ~ name ~ ' in the compiled SQL') }}
    {%- endif -%}
    {{ sql | replace(name, rows_table) }}
{%- endmacro %}


{# A SQL string literal of a file path. #}
{% macro file_increment_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}


{# The file versions of `source_relation` now, in the temp table _file_versions. #}
{% macro file_increment_versions(source_relation) -%}
    {% call statement('file_increment_state') -%}
        create or replace temp table _file_versions as
        select _source_file as source_file, max(_loaded_at) as loaded_at, count(*) as row_count
        from {{ source_relation }}
        group by _source_file
    {%- endcall %}
{%- endmacro %}


{# The state of a model: the fingerprint it was built with and the versions in _file_versions. #}
{% macro file_increment_state_update(state, model_name, fingerprint) -%}
    {% call statement('file_increment_state_update') -%}
        delete from {{ state }} where model = '{{ model_name }}';
        insert into {{ state }}
        select '{{ model_name }}', '{{ fingerprint }}', null, null, null
        union all
        select '{{ model_name }}', '{{ fingerprint }}', source_file, loaded_at, row_count from _file_versions;
        drop table _file_versions
    {%- endcall %}
{%- endmacro %}


{# Build `sql` into a new table and swap it in for `existing_relation` (none: first build), as
   dbt's `table` materialization does; the statement is 'main'. Shared by file_incremental,
   file_table and touched_incremental when they rebuild whole. #}
{% macro replace_whole_table(existing_relation, target_relation, sql) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, sql) }}
    {%- endcall %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {% if existing_relation is not none %}
        {{ adapter.drop_relation(backup_relation) }}
    {% endif %}
{%- endmacro %}


{% materialization file_incremental, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set inputs = file_increment_inputs(model, compiled_code) -%}
    {%- set source_relation, fingerprint = inputs[0], inputs[1] -%}
    {%- set state = file_increment_state_relation(this) -%}
    {%- set model_name = this.schema ~ '.' ~ this.identifier -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if adapter.get_relation(state.database, state.schema, state.identifier) is none %}
        {% do run_query(file_increment_state_ddl(state)) %}
    {% endif %}
    {% do file_increment_versions(source_relation) %}

    {%- set rebuild = existing_relation is none or existing_relation.is_view or should_full_refresh() -%}
    {%- if not rebuild -%}
        {%- set built_with = run_query("select count(*) from " ~ state ~ " where model = '" ~ model_name ~ "' and source_file is null and fingerprint = '" ~ fingerprint ~ "'").columns[0].values()[0] -%}
        {%- set rebuild = built_with == 0 -%}
    {%- endif -%}

    {% if rebuild %}
        {% do replace_whole_table(existing_relation, target_relation, compiled_code) %}
    {% else %}
        {%- set known = "select source_file, loaded_at, row_count from " ~ state ~ " where model = '" ~ model_name ~ "' and source_file is not null" -%}
        {#- files whose rows in the table are no longer what raw holds (reloaded, unloaded) -#}
        {%- set stale = run_query("select distinct source_file from (" ~ known ~ " except select * from _file_versions) order by 1").columns[0].values() -%}
        {#- files whose rows in raw the table does not hold yet (new, reloaded) -#}
        {%- set fresh = run_query("select distinct source_file from (select * from _file_versions except " ~ known ~ ") order by 1").columns[0].values() -%}
        {{ log(this.identifier ~ ': ' ~ stale | length ~ ' file(s) to retract, ' ~ fresh | length ~ ' to add', info=False) }}
        {% call statement('main') -%}
            {% if stale %}
            delete from {{ target_relation }}
            where _source_file in ({% for f in stale %}{{ file_increment_literal(f) }}{{ ", " if not loop.last }}{% endfor %});
            {% endif %}
            {% if fresh %}
            create or replace temp table file_increment_rows as
            select * from {{ source_relation }}
            where _source_file in ({% for f in fresh %}{{ file_increment_literal(f) }}{{ ", " if not loop.last }}{% endfor %});
            insert into {{ target_relation }} by name
            {{ file_increment_sql(compiled_code, source_relation, 'file_increment_rows') }};
            drop table file_increment_rows;
            {% endif %}
            select 1
        {%- endcall %}
    {% endif %}

    {% do file_increment_state_update(state, model_name, fingerprint) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    A table of one source that compares rows across files (materialization `file_table`):
    stg_crm__contacts keeps the latest record per contact, stg_fx__rates the latest rate per
    day, so a new file can change any row and the table is computed whole, as a `table` model
    is, but only when something it reads changed: a file version of its source (loaded,
    reloaded, unloaded) or its fingerprint (as for file_incremental). A daily run with no new
    CRM file no longer recomputes 1.1M contacts (6 s at 10M transactions).
#}
{% materialization file_table, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set inputs = file_increment_inputs(model, compiled_code) -%}
    {%- set source_relation, fingerprint = inputs[0], inputs[1] -%}
    {%- set state = file_increment_state_relation(this) -%}
    {%- set model_name = this.schema ~ '.' ~ this.identifier -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if adapter.get_relation(state.database, state.schema, state.identifier) is none %}
        {% do run_query(file_increment_state_ddl(state)) %}
    {% endif %}
    {% do file_increment_versions(source_relation) %}

    {%- set rebuild = existing_relation is none or existing_relation.is_view or should_full_refresh() -%}
    {%- if not rebuild -%}
        {%- set known = "select source_file, loaded_at, row_count from " ~ state ~ " where model = '" ~ model_name ~ "' and source_file is not null and fingerprint = '" ~ fingerprint ~ "'" -%}
        {%- set built_with = run_query("select count(*) from " ~ state ~ " where model = '" ~ model_name ~ "' and source_file is null and fingerprint = '" ~ fingerprint ~ "'").columns[0].values()[0] -%}
        {%- set changed = run_query("select count(*) from ((" ~ known ~ " except select * from _file_versions) union all (select * from _file_versions except " ~ known ~ ")) as changed").columns[0].values()[0] -%}
        {%- set rebuild = built_with == 0 or changed > 0 -%}
    {%- endif -%}

    {% if rebuild %}
        {% do replace_whole_table(existing_relation, target_relation, compiled_code) %}
        {% do file_increment_state_update(state, model_name, fingerprint) %}
    {% else %}
        {{ log(this.identifier ~ ': no file of its source changed; kept as it is', info=False) }}
        {% call statement('main') -%}
            drop table _file_versions;
            select 1
        {%- endcall %}
    {% endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
