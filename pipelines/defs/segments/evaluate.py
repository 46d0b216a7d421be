"""Evaluate dynamic segments in the build database: who is in each segment on each as-of date.

Writes two tables:

- `marts.dynamic_segment_members`: one row per as-of date, segment and member customer. Each
  run deletes then inserts the rows of its as-of dates (`meta.run_as_of_dates`), so history
  from earlier runs accumulates and re-running an as-of date gives the same rows.
- `marts.dynamic_segments`: one row per current definition (name, description, file,
  conditions as JSON, members on the run's latest as-of date); replaced on every run.

A segment that tests a segment-label column (customer_segments) or a prediction column
(customer_predictions) is evaluated only on the as-of dates that table holds (the run's
latest; for predictions, only when the CLV fit passed its gates); on the other as-of dates of
the run its earlier rows are kept, not deleted. Everything runs in one transaction: a
failure leaves both tables as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from pipelines.defs.segments.catalogue import FACTS_MODEL, MODELS
from pipelines.defs.segments.dynamic import (
    FACTS_ALIAS,
    MODEL_ALIASES,
    SegmentDefinition,
    compile_segment,
)
from pipelines.lib.duck import table_exists

MEMBERS_TABLE = "marts.dynamic_segment_members"
DEFINITIONS_TABLE = "marts.dynamic_segments"
RUN_DATES_TABLE = "meta.run_as_of_dates"

_CREATE_MEMBERS = f"""
create table if not exists {MEMBERS_TABLE} (
    as_of_date date not null,
    segment_name varchar not null,
    customer_key varchar not null
)
"""
_CREATE_DEFINITIONS = f"""
create or replace table {DEFINITIONS_TABLE} (
    segment_name varchar not null,
    description varchar not null,
    definition_file varchar not null,
    conditions varchar not null,
    uses_segment_labels boolean not null,
    as_of_date date,
    member_count bigint not null
)
"""

# The as-of dates a segment is evaluated on: the run's, or for a segment on label or
# prediction columns the run's that those tables hold. Our own SQL; no analyst text.
_RUN_DATES = f"select as_of_date from {RUN_DATES_TABLE}"


def _dates_sql(joined_models: tuple[str, ...]) -> str:
    held = "".join(
        f" and as_of_date in (select distinct as_of_date from marts.{model})"
        for model in joined_models
    )
    return f"{_RUN_DATES} where true{held}" if held else _RUN_DATES


class WarehouseNotReadyError(RuntimeError):
    """The build database lacks a table or column the segments need; the message says which."""


@dataclass(frozen=True)
class SegmentResult:
    """One segment after a run: members on the latest as-of date it was evaluated for."""

    name: str
    description: str
    as_of_dates: int
    latest_as_of_date: date | None
    members: int


def _evaluation_sql(joined_models: tuple[str, ...], predicate: str) -> tuple[str, str]:
    """(delete, insert) statements for one segment; the predicate is compile_segment's."""
    dates = _dates_sql(joined_models)
    join = " ".join(
        f"inner join marts.{model} as {MODEL_ALIASES[model]}"
        f" on {MODEL_ALIASES[model]}.customer_key = {FACTS_ALIAS}.customer_key"
        f" and {MODEL_ALIASES[model]}.as_of_date = {FACTS_ALIAS}.as_of_date"
        for model in joined_models
    )
    delete = f"delete from {MEMBERS_TABLE} where segment_name = ? and as_of_date in ({dates})"
    insert = f"""
        insert into {MEMBERS_TABLE} (as_of_date, segment_name, customer_key)
        select {FACTS_ALIAS}.as_of_date, ?, {FACTS_ALIAS}.customer_key
        from marts.{FACTS_MODEL} as {FACTS_ALIAS}
        {join}
        where {FACTS_ALIAS}.as_of_date in ({dates})
          and {predicate}
    """
    return delete, insert


def _columns(definition: SegmentDefinition) -> set[tuple[str, str]]:
    """(model, column) of every column the definition tests."""
    return {(c.column.model, c.column.name) for c in definition.leaves()}


def check_warehouse(
    con: duckdb.DuckDBPyConnection, definitions: Sequence[SegmentDefinition]
) -> None:
    """Fail with a clear message when a table or a column a definition uses is not built yet."""
    needed = set().union(*(_columns(d) for d in definitions))
    tables = {("meta", "run_as_of_dates"), ("marts", FACTS_MODEL)}
    tables |= {("marts", model) for model, _ in needed}
    for schema, table in sorted(tables):
        if not table_exists(con, schema, table):
            raise WarehouseNotReadyError(
                f"{schema}.{table} does not exist in the build database; materialise the dbt "
                "models (and meta/run_as_of_dates) before the dynamic segments."
            )
    built = set(
        con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts' and list_contains(?::varchar[], table_name)",
            [list(MODELS)],
        ).fetchall()
    )
    for model, column in sorted(needed - built):
        users = ", ".join(d.name for d in definitions if (model, column) in _columns(d))
        raise WarehouseNotReadyError(
            f"marts.{model} has no column {column} (used by {users}), though the dbt YAML "
            "declares it: the table was built before the column was added, or the model's SQL "
            "does not produce it. Rebuild the dbt models, then rerun the dynamic segments."
        )


def evaluate_segments(
    con: duckdb.DuckDBPyConnection, definitions: Sequence[SegmentDefinition]
) -> list[SegmentResult]:
    """Recompute every segment for the run's as-of dates and refresh the definitions table."""
    check_warehouse(con, definitions)
    names = [d.name for d in definitions]
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists marts")
        con.execute(_CREATE_MEMBERS)
        # segments whose file was removed: drop their rows for this run's dates, keep history
        con.execute(
            f"delete from {MEMBERS_TABLE} where as_of_date in ({_RUN_DATES})"
            " and not list_contains(?::varchar[], segment_name)",
            [names],
        )
        for definition in definitions:
            compiled = compile_segment(definition)
            delete, insert = _evaluation_sql(compiled.joined_models, compiled.predicate)
            con.execute(delete, [definition.name])
            con.execute(insert, [definition.name, *compiled.params])
        results = _summarise(con, definitions)
        _write_definitions(con, definitions, results)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return results


def _summarise(
    con: duckdb.DuckDBPyConnection, definitions: Sequence[SegmentDefinition]
) -> list[SegmentResult]:
    """Members per segment on the latest as-of date it was evaluated for in this run."""
    results = []
    for definition in definitions:
        dates = _dates_sql(definition.joined_models)
        count, latest, members = con.execute(
            f"""
            with evaluated as ({dates}),
            latest as (select max(as_of_date) as as_of_date from evaluated)
            select
                (select count(*) from evaluated),
                latest.as_of_date,
                (select count(*) from {MEMBERS_TABLE} as members
                 where members.segment_name = ? and members.as_of_date = latest.as_of_date)
            from latest
            """,
            [definition.name],
        ).fetchone()
        results.append(
            SegmentResult(definition.name, definition.description, count, latest, members)
        )
    return results


def _write_definitions(
    con: duckdb.DuckDBPyConnection,
    definitions: Sequence[SegmentDefinition],
    results: Sequence[SegmentResult],
) -> None:
    con.execute(_CREATE_DEFINITIONS)
    rows = [
        (
            d.name,
            d.description,
            d.source_file.as_posix(),
            d.conditions_json(),
            d.uses_labels,
            r.latest_as_of_date,
            r.members,
        )
        for d, r in zip(definitions, results, strict=True)
    ]
    if rows:
        con.executemany(f"insert into {DEFINITIONS_TABLE} values (?, ?, ?, ?, ?, ?, ?)", rows)
