"""The published tables as Parquet, for tools that read files, not DuckDB.

Written from the published (audited) file, never the build database, into a staging folder
that `versioned_dir.staged_version` turns into `$SEGMENTS_WAREHOUSE_DIR/parquet/current/`.
Readers resolve `current` once and read every table from that folder (docs/bi_connections.md).

Layout: a table is one file, `<table>.parquet`; a history table (one with a `history_key`,
`as_of_date`) is a Hive-partitioned folder, one file per as-of date,
`<table>/as_of_date=2026-11-30/data_0.parquet` (the key is in the path, not in the file, as
Spark, pyarrow and Polars expect; DuckDB reads it back as a DATE column). A history table
with no rows at all is one schema-only file, `<table>/empty.parquet`.

Incremental: `_publish.json` records each table's (and each as-of date's) content
fingerprint (rows + sum of row hashes, as the publish stored them in the file's
`_publish.fingerprints`). A table or date whose fingerprint equals the one in the current
version is hard-linked from that version (a Parquet file is never modified in place, so
sharing it is safe); only what changed is written again. A daily run therefore writes one
new date of each history table, not the whole history (at 10M transactions the daily copy
of the history tables took 28 s).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.defs.publish.publish import PUBLISHED_TABLES, stored_fingerprints
from pipelines.defs.publish.versioned_dir import current_version, staged_version
from pipelines.lib.duck import connect, quote_ident, sql_str

MANIFEST_NAME = "_publish.json"
# The file of a history table without rows (it carries the table's columns).
EMPTY_FILE = "empty.parquet"
# As-of dates written by one partitioned COPY: DuckDB keeps a file open per partition, and
# past `partitioned_write_max_open_files` (100) it would split a date over several files.
PARTITIONS_PER_COPY = 64
# Tables written one file per value of this column (the publish's history key).
HISTORY_KEYS: dict[str, str] = {t.name: t.history_key for t in PUBLISHED_TABLES if t.history_key}
# One fingerprint: {slice: (rows, digest)}, slice None for a whole table.
Prints = dict[str | None, tuple[int, str]]


@dataclass(frozen=True)
class ParquetSet:
    folder: Path  # the version folder `current` points at
    rows: dict[str, int]
    written: tuple[str, ...]  # tables written (all or some of their as-of dates) this time
    reused: tuple[str, ...]  # tables hard-linked whole from the previous version
    # history table → as-of dates written this time (the others were hard-linked)
    slices_written: dict[str, int] | None = None


def reader_path(folder: Path, table: str) -> str:
    """What to give `read_parquet` for `table` in a version folder: its file, or every file
    of a history table's folder (DuckDB reads the Hive key back as a column)."""
    if (folder / table).is_dir():
        return f"{folder}/{table}/**/*.parquet"
    return f"{folder}/{table}.parquet"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [
        (name, dtype)
        for name, dtype in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


def _prints(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], key: str | None, stored: dict
) -> Prints:
    """{slice: (rows, digest)} as the publish stored them (no second scan), else computed;
    one slice (None) for a table without a history key."""
    if table in stored:
        slices: Prints = stored[table][1]
        if key is None:  # slice digests add up to the table's (sums of row hashes)
            return {None: (sum(n for n, _ in slices.values()), str(_digest_sum(slices)))}
        if None not in slices:
            return slices
    cols = ", ".join(quote_ident(c) for c in columns)
    digest = f"count(*), sum(hash({cols})::HUGEINT)::VARCHAR"
    relation = f"main.{quote_ident(table)}"
    if key is None:
        n, h = con.execute(f"select {digest} from {relation}").fetchone()
        return {None: (n, h or "0")}
    return {
        k: (n, h or "0")
        for k, n, h in con.execute(
            f"select {quote_ident(key)}::VARCHAR, {digest} from {relation} group by 1"
        ).fetchall()
    }


def _digest_sum(slices: Prints) -> int:
    return sum(int(d) for _, d in slices.values())


def _previous_manifest(parquet_dir: Path) -> tuple[Path | None, dict]:
    folder = current_version(parquet_dir)
    if folder is None or not (folder / MANIFEST_NAME).exists():
        return None, {}
    try:
        return folder, json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, {}


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: a copy still avoids re-encoding
        shutil.copy2(source, target)


def _copy(con: duckdb.DuckDBPyConnection, select: str, target: Path, options: str = "") -> int:
    """COPY a query to Parquet (zstd); returns the rows written."""
    return con.execute(
        f"copy ({select}) to {sql_str(os.fspath(target))} "
        f"(format parquet, compression zstd{options})"
    ).fetchone()[0]


def _write_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staging: Path,
    fingerprint: str,
    previous: Path | None,
    before: dict,
) -> tuple[dict, bool]:
    """One file for the table, hard-linked when unchanged. Returns (manifest entry, written)."""
    name = f"{table}.parquet"
    source = previous / before.get("file", "") if previous and "file" in before else None
    if source is not None and before.get("fingerprint") == fingerprint and source.is_file():
        _link_or_copy(source, staging / name)
        rows, written = int(before["rows"]), False
    else:
        rows, written = _copy(con, f"select * from main.{quote_ident(table)}", staging / name), True
    return {"file": name, "rows": rows, "fingerprint": fingerprint}, written


def _write_history(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    staging: Path,
    prints: Prints,
    types: str,
    previous: Path | None,
    before: dict,
) -> tuple[dict, int]:
    """A Hive folder with one partition per value of `key`; values whose fingerprint is the
    previous version's are hard-linked, the others written by partitioned COPYs.
    Returns (manifest entry, as-of dates written)."""
    folder = staging / table
    folder.mkdir()
    total = sum(n for n, _ in prints.values())
    entry: dict = {
        "folder": table,
        "partitioned_by": key,
        "rows": total,
        "fingerprint": f"{total}:{_digest_sum(prints)}:{types}",
        "slices": {},
    }
    if not prints:  # no rows: one file that carries the schema
        _copy(con, f"select * from main.{quote_ident(table)}", folder / EMPTY_FILE)
        entry["files"] = [f"{table}/{EMPTY_FILE}"]
        return entry, 0
    old = before.get("slices", {}) if before.get("partitioned_by") == key else {}
    todo: list[str] = []
    for value, (n, digest) in sorted(prints.items()):
        fingerprint = f"{n}:{digest}:{types}"
        was = old.get(value, {})
        sources = [previous / f for f in was.get("files", [])] if previous else []
        if was.get("fingerprint") == fingerprint and sources and all(map(Path.is_file, sources)):
            for source, rel in zip(sources, was["files"], strict=True):
                _link_or_copy(source, staging / rel)
            entry["slices"][value] = {"files": was["files"], "rows": n, "fingerprint": fingerprint}
        else:
            todo.append(value)
            entry["slices"][value] = {"files": [], "rows": n, "fingerprint": fingerprint}
    out = staging / f".{table}.partitions"
    for i in range(0, len(todo), PARTITIONS_PER_COPY):
        chunk = todo[i : i + PARTITIONS_PER_COPY]
        con.execute("create or replace temp table _slices (k varchar)")
        con.executemany("insert into _slices values (?)", [[v] for v in chunk])
        # one scan for a chunk of new or changed dates: <key>=<value>/data_<n>.parquet each
        _copy(
            con,
            f"select * from main.{quote_ident(table)} "
            f"where {quote_ident(key)}::VARCHAR in (select k from _slices)",
            out,
            f", partition_by ({quote_ident(key)}), overwrite_or_ignore",
        )
        for value in chunk:
            part = out / f"{key}={value}"
            files = sorted(part.glob("*.parquet"))
            if not files:
                raise RuntimeError(
                    f"Parquet: writing {table} by {key} gave no file for {value} in {out}: "
                    "report this as a bug (a key value DuckDB writes under another name?)."
                )
            part.rename(folder / part.name)
            entry["slices"][value]["files"] = [f"{table}/{part.name}/{f.name}" for f in files]
    if out.exists():
        shutil.rmtree(out)
    return entry, len(todo)


def refresh_parquet(published_db: Path, parquet_dir: Path) -> ParquetSet:
    """Write every table of the published file under `<parquet_dir>/current/` (a file per
    table, a folder per history table), plus `_publish.json` (when, which tables, rows and
    fingerprints), as one new version.

    DuckDB's COPY streams each table straight to Parquet (zstd), so memory stays flat on a
    ten-million-row warehouse; unchanged tables and as-of dates are hard-linked from the
    previous version.
    """
    previous, old = _previous_manifest(parquet_dir)
    old_tables = old.get("tables", {})
    rows: dict[str, int] = {}
    entries: dict[str, dict] = {}
    written: list[str] = []
    reused: list[str] = []
    slices_written: dict[str, int] = {}
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
                columns = _columns(con, table)
                types = ", ".join(f"{c} {t}" for c, t in columns)
                key = HISTORY_KEYS.get(table)
                if key not in {c for c, _ in columns}:
                    key = None
                prints = _prints(con, table, [c for c, _ in columns], key, stored)
                before = old_tables.get(table, {})
                if key is None:
                    n, digest = prints[None]
                    entry, changed = _write_table(
                        con, table, staging, f"{n}:{digest}:{types}", previous, before
                    )
                else:
                    entry, n_written = _write_history(
                        con, table, key, staging, prints, types, previous, before
                    )
                    slices_written[table] = n_written
                    changed = n_written > 0 or before.get("fingerprint") != entry["fingerprint"]
                (written if changed else reused).append(table)
                entries[table], rows[table] = entry, entry["rows"]
            manifest = {
                "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "tables": entries,
            }
            (staging / MANIFEST_NAME).write_text(
                json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
            )
    folder = current_version(parquet_dir)
    assert folder is not None  # staged_version just pointed `current` at it
    return ParquetSet(folder, rows, tuple(written), tuple(reused), slices_written)
