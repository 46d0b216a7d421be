"""The published tables as Parquet, one file per table, for tools that read files not DuckDB.

Written from the new published file right before it is swapped in, into a staging folder
that `versioned_dir.staged_version` turns into `$SEGMENTS_WAREHOUSE_DIR/parquet/current/`.
Readers resolve `current` once and read every table from that folder (docs/bi_connections.md).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.lib.duck import quote_ident, sql_str

MANIFEST_NAME = "_publish.json"


def write_parquet_set(db_path: Path, folder: Path, tables: list[str]) -> dict[str, int]:
    """Write `<folder>/<table>.parquet` for each table of `db_path`, plus `_publish.json`
    (when, which tables, rows each): the file a reader checks to know what it holds.

    DuckDB's COPY streams each table straight to Parquet (zstd), so memory stays flat on a
    ten-million-row warehouse.
    """
    rows: dict[str, int] = {}
    with duckdb.connect(os.fspath(db_path), read_only=True) as con:
        for table in tables:
            target = folder / f"{table}.parquet"
            rows[table] = con.execute(
                f"copy main.{quote_ident(table)} to {sql_str(os.fspath(target))} "
                "(format parquet, compression zstd)"
            ).fetchone()[0]
    manifest = {
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {name: {"file": f"{name}.parquet", "rows": n} for name, n in rows.items()},
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return rows
