"""The write side of a load: raw/quarantine DDL and the delete-then-insert of one batch.

Works on the table `_staged` (stage.py; in an attached in-memory database) and the temp path
list `_parsed_files` (files staged without error): a load replaces exactly the earlier rows
of the files it parsed.
"""

from __future__ import annotations

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


def paths_table(con: duckdb.DuckDBPyConnection, name: str, paths: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (path VARCHAR)")
    if paths:
        con.executemany(f"INSERT INTO {name} VALUES (?)", [(p,) for p in paths])


# A load replaces exactly the rows of the files it parsed (temp table `_parsed_files`): a
# changed file replaces its own rows, an unchanged one is not touched.
REPLACED = "_source_file IN (SELECT path FROM _parsed_files)"
GOOD = "reason_code IS NULL"
BAD = "reason_code IS NOT NULL"


def touched_partitions(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> set[date]:
    """UTC days whose rows this load deletes or inserts (out-of-range dates excluded)."""
    rows = con.execute(f"""
        SELECT DISTINCT _partition_date FROM (
            SELECT _partition_date FROM raw.{spec.table} WHERE {REPLACED}
            UNION ALL
            SELECT _partition_date FROM quarantine.{spec.quarantine}
            WHERE {REPLACED} AND NOT {FILE_SCOPED}
            UNION ALL
            SELECT _partition_date FROM {stage.STAGED} WHERE NOT {FILE_SCOPED}
        )
    """).fetchall()
    return {r[0] for r in rows}


def insert_counts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    rows = con.execute(f"""
        SELECT _source_file, count(*) FILTER ({GOOD}), count(*) FILTER ({BAD})
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


def replace_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Delete-then-insert: the caller holds the transaction."""
    names = ", ".join(quote_ident(n) for n, _ in spec.columns)
    lineage = ", ".join(LINEAGE)
    con.execute(f"DELETE FROM raw.{spec.table} WHERE {REPLACED}")
    con.execute(f"DELETE FROM quarantine.{spec.quarantine} WHERE {REPLACED}")
    con.execute(f"""
        INSERT INTO raw.{spec.table} ({names}, {lineage})
        SELECT {names}, {lineage} FROM {stage.STAGED} WHERE {GOOD}
    """)
    qcols = ", ".join(QUARANTINE_COLUMNS)
    con.execute(f"""
        INSERT INTO quarantine.{spec.quarantine} ({qcols})
        SELECT {qcols} FROM {stage.STAGED} WHERE {BAD}
    """)
