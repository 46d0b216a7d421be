"""meta.load_manifest: one row per landed file path, with the content hash it had last.

Origin: written by every ingest run. A file is identified by its sha256: the same bytes under
another path are a re-drop (`duplicate_of:<path>`) and load nothing. `min/max_partition_date`
are recorded when a file is parsed, so a later daily run re-reads only files that hold rows of
its window. `rows_loaded` / `rows_quarantined` are recomputed from raw / quarantine after
every load, so they always equal what the tables hold for that file.

`rows_waiting` (an addition to docs/raw_tables.md) counts the file's rows whose partition no
run has loaded yet (a daily run loads one day of a multi-day file), so at every moment
`rows_in_file = rows_loaded + rows_quarantined + rows_waiting`: nothing lost, nothing double.

`reader_fingerprint` (an addition to docs/raw_tables.md) hashes whatever outside the file
changes how it parses (a generic source's mapping.yml, the reporting currency for fx): when it
changes, a known file counts as changed and is parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from pipelines.lib.duck import table_exists

TABLE = "meta.load_manifest"

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    source VARCHAR NOT NULL,
    file_path VARCHAR NOT NULL,
    file_sha256 VARCHAR NOT NULL,
    file_bytes BIGINT,
    status VARCHAR NOT NULL,
    error VARCHAR,
    rows_in_file BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_waiting BIGINT,
    min_partition_date DATE,
    max_partition_date DATE,
    first_seen_at TIMESTAMP,
    loaded_at TIMESTAMP,
    reader_fingerprint VARCHAR
)
"""

LOADED = "loaded"
FAILED = "failed"
# Retracted by `segments unload`: its rows are deleted and the same bytes are not loaded
# again (changed bytes are, as a new version of the file).
UNLOADED = "unloaded"
DUPLICATE_PREFIX = "duplicate_of:"


@dataclass(frozen=True)
class ManifestRow:
    source: str
    file_path: str
    file_sha256: str
    file_bytes: int | None
    status: str
    error: str | None
    rows_in_file: int | None
    rows_loaded: int | None
    rows_quarantined: int | None
    rows_waiting: int | None
    min_partition_date: date | None
    max_partition_date: date | None
    first_seen_at: datetime | None
    loaded_at: datetime | None
    reader_fingerprint: str | None

    @property
    def is_duplicate(self) -> bool:
        return self.status.startswith(DUPLICATE_PREFIX)


_COLUMNS = tuple(ManifestRow.__dataclass_fields__)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(DDL)


def read(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, ManifestRow]:
    """The manifest rows of one source by file path (empty on a new warehouse)."""
    if not table_exists(con, "meta", "load_manifest"):
        return {}
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} WHERE source = ?", [source]
    ).fetchall()
    return {r[1]: ManifestRow(*r) for r in rows}


def upsert(con: duckdb.DuckDBPyConnection, rows: list[ManifestRow]) -> None:
    """Replace the rows of these (source, file_path) pairs."""
    if not rows:
        return
    con.executemany(
        f"DELETE FROM {TABLE} WHERE source = ? AND file_path = ?",
        [(r.source, r.file_path) for r in rows],
    )
    placeholders = ", ".join("?" for _ in _COLUMNS)
    con.executemany(
        f"INSERT INTO {TABLE} ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
        [tuple(getattr(r, c) for c in _COLUMNS) for r in rows],
    )


def refresh_counts(
    con: duckdb.DuckDBPyConnection,
    source: str,
    raw_table: str,
    quarantine_table: str,
    files: list[str] | None = None,
) -> None:
    """Set rows_loaded / rows_quarantined of the files of `source` (all, or just `files`)
    from what the tables hold (duplicates stay 0): the reconciliation check compares these
    with rows_in_file."""
    only = "TRUE" if files is None else "_source_file IN (SELECT unnest(?::VARCHAR[]))"
    params = [] if files is None else [files]
    con.execute(
        f"""
        UPDATE {TABLE} AS m
        SET rows_loaded = coalesce(r.n, 0), rows_quarantined = coalesce(q.n, 0)
        FROM (SELECT file_path FROM {TABLE} WHERE source = ?) AS f
        LEFT JOIN (SELECT _source_file, count(*) AS n FROM {raw_table} WHERE {only}
                   GROUP BY ALL) AS r
               ON r._source_file = f.file_path
        LEFT JOIN (SELECT _source_file, count(*) AS n FROM {quarantine_table} WHERE {only}
                   GROUP BY ALL) AS q
               ON q._source_file = f.file_path
        WHERE m.source = ? AND m.file_path = f.file_path AND NOT starts_with(m.status, ?)
          {"" if files is None else "AND m.file_path IN (SELECT unnest(?::VARCHAR[]))"}
        """,
        [source, *params, *params, source, DUPLICATE_PREFIX, *params],
    )
