"""The write side of a load: raw/quarantine DDL and the delete-then-insert of one batch.

Works on the temp table `_staged` (stage.py) and two temp path lists: `_parsed_files` (files
staged without error) and `_scope_files` (files present in the landing zone that did not
fail). `LoadScope` holds the WHERE clauses that make a re-run of a window replace exactly what
the previous run of that window wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from pipelines.lib.duck import quote_ident

from . import manifest, stage
from .spec import SourceSpec

# Quarantine rows that belong to their file rather than to a partition: no date, or a date no
# partition run will ever cover. They are replaced whenever their file is parsed.
# (coalesce: a good row's NULL reason_code must make this FALSE, not NULL, or NOT would hide it.)
FILE_SCOPED = (
    "(_partition_date IS NULL OR coalesce(reason_code, '') IN ('future_date', 'before_start_date'))"
)

LINEAGE = ("_source_file", "_source_line", "_loaded_at", "_partition_date")
QUARANTINE_COLUMNS = (*LINEAGE, "reason_code", "reason_detail", "raw_record")


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Create raw.<table>, quarantine.<source> and meta.load_manifest if missing."""
    for schema in ("raw", "quarantine"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in spec.columns)
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS raw.{spec.table} (
            {cols},
            _source_file VARCHAR NOT NULL, _source_line BIGINT NOT NULL,
            _loaded_at TIMESTAMP NOT NULL, _partition_date DATE NOT NULL
        )
    """)
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS quarantine.{spec.quarantine} (
            _source_file VARCHAR NOT NULL, _source_line BIGINT, _loaded_at TIMESTAMP NOT NULL,
            _partition_date DATE, reason_code VARCHAR NOT NULL, reason_detail VARCHAR,
            raw_record VARCHAR
        )
    """)
    manifest.ensure(con)


def window_sql(start: date | None, end: date | None) -> str:
    parts = ["TRUE"]
    if start is not None:
        parts.append(f"_partition_date >= DATE '{start.isoformat()}'")
    if end is not None:
        parts.append(f"_partition_date < DATE '{end.isoformat()}'")
    return "(" + " AND ".join(parts) + ")"


def paths_table(con: duckdb.DuckDBPyConnection, name: str, paths: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (path VARCHAR)")
    if paths:
        con.executemany(f"INSERT INTO {name} VALUES (?)", [(p,) for p in paths])


@dataclass(frozen=True)
class LoadScope:
    """WHERE clauses of one load: which rows it deletes and which staged rows it inserts.

    Uses temp tables `_parsed_files` (files staged without error) and `_scope_files` (files
    present in the landing zone that did not fail).
    """

    windowed: bool
    window: str

    @property
    def raw_delete(self) -> str:
        if not self.windowed:
            return "_source_file IN (SELECT path FROM _parsed_files)"
        return f"_source_file IN (SELECT path FROM _scope_files) AND {self.window}"

    @property
    def quarantine_delete(self) -> str:
        if not self.windowed:
            return "_source_file IN (SELECT path FROM _parsed_files)"
        return (
            f"(_source_file IN (SELECT path FROM _scope_files) AND {self.window} "
            f"AND NOT {FILE_SCOPED}) "
            f"OR (_source_file IN (SELECT path FROM _parsed_files) AND {FILE_SCOPED})"
        )

    @property
    def raw_insert(self) -> str:
        if not self.windowed:
            return "reason_code IS NULL"
        return f"reason_code IS NULL AND {self.window}"

    @property
    def quarantine_insert(self) -> str:
        if not self.windowed:
            return "reason_code IS NOT NULL"
        return (
            f"reason_code IS NOT NULL AND (({self.window} AND NOT {FILE_SCOPED}) OR {FILE_SCOPED})"
        )


def touched_partitions(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, scope: LoadScope
) -> set[date]:
    """Partitions whose rows this load deletes or inserts (out-of-range dates excluded)."""
    rows = con.execute(f"""
        SELECT DISTINCT _partition_date FROM (
            SELECT _partition_date FROM raw.{spec.table} WHERE {scope.raw_delete}
            UNION ALL
            SELECT _partition_date FROM quarantine.{spec.quarantine}
            WHERE ({scope.quarantine_delete}) AND NOT {FILE_SCOPED}
            UNION ALL
            SELECT _partition_date FROM {stage.STAGED}
            WHERE (({scope.raw_insert}) OR ({scope.quarantine_insert})) AND NOT {FILE_SCOPED}
        )
    """).fetchall()
    return {r[0] for r in rows}


def insert_counts(con: duckdb.DuckDBPyConnection, scope: LoadScope) -> dict[str, tuple[int, int]]:
    rows = con.execute(f"""
        SELECT _source_file, count(*) FILTER ({scope.raw_insert}),
               count(*) FILTER ({scope.quarantine_insert})
        FROM {stage.STAGED} GROUP BY ALL
    """).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def file_stats(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, date | None, date | None]]:
    """Per staged file: records in the file and the range of partitions its rows go to.

    Rows dated before SEGMENTS_START_DATE or after the run date are left out of the range:
    no daily run covers them, and a typo like 2031 would make every daily run re-read the
    file. They stay in quarantine until the file is parsed again (changed, re-landed, a full
    reload, or a new SEGMENTS_START_DATE, which is part of every file's fingerprint).
    """
    rows = con.execute(f"""
        SELECT _source_file, count(*),
               min(_partition_date) FILTER (NOT {FILE_SCOPED}),
               max(_partition_date) FILTER (NOT {FILE_SCOPED})
        FROM {stage.STAGED} GROUP BY ALL
    """).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def waiting_counts(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, scope: LoadScope
) -> dict[str, int]:
    """Per parsed file: rows this run did not insert whose partition holds no row of the
    file yet, i.e. rows waiting for their partition's run. Call after `replace_rows`."""
    rows = con.execute(f"""
        SELECT _source_file, count(*) FROM {stage.STAGED} AS s
        WHERE NOT (({scope.raw_insert}) OR ({scope.quarantine_insert}))
          AND NOT {FILE_SCOPED}
          AND NOT EXISTS (
              SELECT 1 FROM raw.{spec.table} AS r
              WHERE r._source_file = s._source_file AND r._partition_date = s._partition_date)
          AND NOT EXISTS (
              SELECT 1 FROM quarantine.{spec.quarantine} AS q
              WHERE q._source_file = s._source_file AND q._partition_date = s._partition_date)
        GROUP BY ALL
    """).fetchall()
    return {r[0]: r[1] for r in rows}


def replace_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec, scope: LoadScope) -> None:
    """Delete-then-insert: the caller holds the transaction."""
    names = ", ".join(quote_ident(n) for n, _ in spec.columns)
    lineage = ", ".join(LINEAGE)
    con.execute(f"DELETE FROM raw.{spec.table} WHERE {scope.raw_delete}")
    con.execute(f"DELETE FROM quarantine.{spec.quarantine} WHERE {scope.quarantine_delete}")
    con.execute(f"""
        INSERT INTO raw.{spec.table} ({names}, {lineage})
        SELECT {names}, {lineage} FROM {stage.STAGED} WHERE {scope.raw_insert}
    """)
    qcols = ", ".join(QUARANTINE_COLUMNS)
    con.execute(f"""
        INSERT INTO quarantine.{spec.quarantine} ({qcols})
        SELECT {qcols} FROM {stage.STAGED} WHERE {scope.quarantine_insert}
    """)
