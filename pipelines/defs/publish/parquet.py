"""The published tables as Parquet, one file per table, for tools that read files not DuckDB.

Written from the published (audited) file, never the build database, into a staging folder
that `versioned_dir.staged_version` turns into `$SEGMENTS_WAREHOUSE_DIR/parquet/current/`.
Readers resolve `current` once and read every table from that folder (docs/bi_connections.md).

Incremental: `_publish.json` records each table's content fingerprint (rows + sum of row
hashes, as the publish stored them in the file's `_publish.fingerprints`). A table whose
fingerprint equals the one in the current version is hard-linked from that version (a
Parquet file is never modified in place, so sharing it is safe); only changed tables are
written again.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.defs.publish.publish import stored_fingerprints
from pipelines.defs.publish.versioned_dir import current_version, staged_version
from pipelines.lib.duck import connect, quote_ident, sql_str

MANIFEST_NAME = "_publish.json"


@dataclass(frozen=True)
class ParquetSet:
    folder: Path  # the version folder `current` points at
    rows: dict[str, int]
    written: tuple[str, ...]  # tables written this time
    reused: tuple[str, ...]  # tables hard-linked from the previous version


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str, stored: dict | None = None) -> str:
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'main' "
            "and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]
    types = con.execute(
        "select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position) "
        "from information_schema.columns where table_schema = 'main' and table_name = ?",
        [table],
    ).fetchone()[0]
    if stored is not None and table in stored:
        # Written by the publish with the table (publish.FINGERPRINTS): no second scan.
        # Slice digests add up to the table's (sums of row hashes).
        slices = stored[table][1].values()
        n, digest = sum(r for r, _ in slices), str(sum(int(d) for _, d in slices))
    else:
        cols = ", ".join(quote_ident(c) for c in columns)
        n, digest = con.execute(
            f"select count(*), sum(hash({cols})::HUGEINT)::VARCHAR from main.{quote_ident(table)}"
        ).fetchone()
    return f"{n}:{digest or '0'}:{types}"


def _previous_manifest(parquet_dir: Path) -> tuple[Path | None, dict]:
    folder = current_version(parquet_dir)
    if folder is None or not (folder / MANIFEST_NAME).exists():
        return None, {}
    try:
        return folder, json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, {}


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: a copy still avoids re-encoding
        shutil.copy2(source, target)


def refresh_parquet(published_db: Path, parquet_dir: Path) -> ParquetSet:
    """Write `<parquet_dir>/current/<table>.parquet` for every table of the published file,
    plus `_publish.json` (when, which tables, rows and fingerprint each), as one new version.

    DuckDB's COPY streams each table straight to Parquet (zstd), so memory stays flat on a
    ten-million-row warehouse; unchanged tables are hard-linked from the previous version.
    """
    previous, old = _previous_manifest(parquet_dir)
    old_tables = old.get("tables", {})
    rows: dict[str, int] = {}
    prints: dict[str, str] = {}
    written: list[str] = []
    reused: list[str] = []
    if not published_db.exists():
        raise FileNotFoundError(
            f"{published_db} does not exist: nothing to write as Parquet; "
            "run `segments run` to publish first"
        )
    # the memory limit and spill folder of every pipeline connection (a plain connection took
    # 8 GiB for the Parquet copy of a 30M warehouse)
    with connect(published_db, read_only=True) as con:
        # Rows of a table have no order in the contract: let COPY write in parallel (~10%).
        con.execute("set preserve_insertion_order = false")
        con.execute("set enable_progress_bar = false")
        stored = stored_fingerprints(con, con.execute("select current_database()").fetchone()[0])
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' "
                "and database_name = current_database() order by table_name"
            ).fetchall()
        ]
        with staged_version(parquet_dir) as staging:
            for table in tables:
                target = staging / f"{table}.parquet"
                prints[table] = _fingerprint(con, table, stored)
                before = old_tables.get(table, {})
                source = previous / before.get("file", "") if previous else None
                if (
                    source is not None
                    and before.get("fingerprint") == prints[table]
                    and source.is_file()
                ):
                    _link_or_copy(source, target)
                    rows[table] = int(before["rows"])
                    reused.append(table)
                    continue
                rows[table] = con.execute(
                    f"copy main.{quote_ident(table)} to {sql_str(os.fspath(target))} "
                    "(format parquet, compression zstd)"
                ).fetchone()[0]
                written.append(table)
            manifest = {
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "tables": {
                    name: {"file": f"{name}.parquet", "rows": n, "fingerprint": prints[name]}
                    for name, n in rows.items()
                },
            }
            (staging / MANIFEST_NAME).write_text(
                json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
            )
    folder = current_version(parquet_dir)
    assert folder is not None  # staged_version just pointed `current` at it
    return ParquetSet(folder, rows, tuple(written), tuple(reused))
