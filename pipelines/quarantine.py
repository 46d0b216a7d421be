"""`segments quarantine`: the rows ingest rejected (file, line, reason, raw text), readable
at any time without ever getting in the way of a run.

Opening `build.duckdb` while a run writes it fails the run's next write (DuckDB: one writer,
and a reader in another process blocks it). So:

- at the end of every run (succeeded or failed) the run copies `quarantine.*` and
  `meta.load_manifest` into `<warehouse dir>/quarantine.duckdb` (mode 0600: raw text can hold
  personal data), written to a temp file and swapped in with `os.replace`;
- `segments quarantine` reads the build database itself only while no run holds the
  warehouse, holding the warehouse lock shared meanwhile, so a run starting then waits a moment
  (pipelines/lib/runlock.py); while a run holds it, it reads the copy and says which run is
  writing and how old the copy is.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines import settings as _settings
from pipelines.lib import runlock
from pipelines.lib.duck import quote_ident, sql_str

COPY_NAME = "quarantine.duckdb"
RAW_SHOWN = 200  # characters of a rejected row's raw text shown per line


def copy_path(cfg: _settings.Settings) -> Path:
    return cfg.warehouse_dir / COPY_NAME


def _quarantine_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name = ? "
            "and schema_name = 'quarantine' order by 1",
            [catalog],
        ).fetchall()
    ]


def write_copy(build_db: Path, dest: Path) -> int:
    """Copy quarantine.* and meta.load_manifest of `build_db` into `dest` (atomically, 0600).
    Call only while holding the warehouse (a run, at its end). Returns the rows copied."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    total = 0
    try:
        with duckdb.connect(":memory:") as con:
            con.execute(f"attach {sql_str(os.fspath(build_db))} as b (read_only)")
            con.execute(f"attach {sql_str(os.fspath(tmp))} as q")
            con.execute("create schema q.quarantine")
            con.execute("create schema q.meta")
            for table in _quarantine_tables(con, "b"):
                name = quote_ident(table)
                con.execute(
                    f"create table q.quarantine.{name} as select * from b.quarantine.{name}"
                )
                total += con.execute(f"select count(*) from q.quarantine.{name}").fetchone()[0]
            has_manifest = con.execute(
                "select count(*) from duckdb_tables() where database_name = 'b' "
                "and schema_name = 'meta' and table_name = 'load_manifest'"
            ).fetchone()[0]
            if has_manifest:
                con.execute(
                    "create table q.meta.load_manifest as select * from b.meta.load_manifest"
                )
            con.execute("checkpoint q")
            con.execute("detach q")
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return total


@dataclass(frozen=True)
class Row:
    source: str
    file: str
    line: int | None
    reason: str
    detail: str | None
    raw: str | None


@contextmanager
def _open_source(cfg: _settings.Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection | None, str]]:
    """A connection whose `src` catalog has the quarantine schema, and a line saying where it
    comes from; (None, reason) when there is nothing to read."""
    if not cfg.build_db.exists() and not copy_path(cfg).exists():
        yield None, f"no quarantine to show: nothing loaded yet into {cfg.warehouse_dir}"
        return
    with runlock.reading(cfg.warehouse_dir) as free:
        if free and cfg.build_db.exists():
            path, origin = cfg.build_db, f"from {cfg.build_db} (no run is writing it)"
        else:
            holder = runlock.read_holder(cfg.warehouse_dir) if not free else None
            copy = copy_path(cfg)
            if not copy.exists():
                why = (
                    f"{holder.describe() if holder else 'a run'} is writing the build database "
                    "and no run has finished yet"
                    if not free
                    else "nothing loaded yet: run `segments run`"
                )
                yield None, f"no quarantine to show: {why}"
                return
            age = datetime.fromtimestamp(copy.stat().st_mtime, UTC)
            running = f"{holder.describe()} is writing the build database; " if holder else ""
            path = copy
            origin = (
                f"{running}showing the copy written at the end of the last run "
                f"({age:%Y-%m-%d %H:%M:%S} UTC): {copy}"
            )
        con = duckdb.connect(":memory:")
        try:
            try:
                con.execute(f"attach {sql_str(os.fspath(path))} as src (read_only)")
            except duckdb.IOException as exc:
                # another process holds build.duckdb without the warehouse lock (a killed
                # run's dbt child, before the next run ends it): read the copy instead
                copy = copy_path(cfg)
                if path == copy or "lock" not in str(exc).lower() or not copy.exists():
                    raise
                age = datetime.fromtimestamp(copy.stat().st_mtime, UTC)
                con.execute(f"attach {sql_str(os.fspath(copy))} as src (read_only)")
                holder = re.search(r"PID (\d+)", str(exc))
                who = f"process {holder.group(1)}" if holder else "another process"
                origin = (
                    f"{cfg.build_db} is locked by {who} outside the warehouse lock (a killed "
                    "run's dbt?); "
                    f"showing the copy written at the end of the last run "
                    f"({age:%Y-%m-%d %H:%M:%S} UTC): {copy}"
                )
            yield con, origin
        finally:
            con.close()


def read_rows(
    cfg: _settings.Settings,
    source: str | None = None,
    reason: str | None = None,
    file: str | None = None,
) -> tuple[str, list[Row] | None]:
    """Quarantined rows (filtered), by file and line, and where they were read from; None
    instead of rows when there is nothing to read (the line says why)."""
    with _open_source(cfg) as (con, origin):
        if con is None:
            return origin, None
        tables = _quarantine_tables(con, "src")
        if source is not None:
            tables = [t for t in tables if t == source]
        parts, params = [], []
        for table in tables:
            where, args = ["true"], []
            if reason:
                where.append("reason_code = ?")
                args.append(reason)
            if file:
                where.append("(_source_file = ? or _source_file like ?)")
                args += [file, "%/" + file.lstrip("/")]
            parts.append(
                f"select {sql_str(table)} as source, _source_file, _source_line, reason_code, "
                f"reason_detail, raw_record from src.quarantine.{quote_ident(table)} "
                f"where {' and '.join(where)}"
            )
            params += args
        if not parts:
            return origin, []
        rows = con.execute(
            " union all ".join(parts) + " order by _source_file, _source_line", params
        ).fetchall()
    return origin, [Row(*r) for r in rows]


def _one_line(text: str | None, limit: int) -> str:
    if text is None:
        return ""
    flat = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quarantine_lines(
    cfg: _settings.Settings,
    source: str | None = None,
    reason: str | None = None,
    file: str | None = None,
    limit: int = 50,
) -> list[str]:
    origin, rows = read_rows(cfg, source, reason, file)
    lines = [origin]
    if rows is None:
        return lines
    if not rows:
        filters = ", ".join(
            f"{k}={v}" for k, v in (("source", source), ("reason", reason), ("file", file)) if v
        )
        return [*lines, "no quarantined rows" + (f" matching {filters}" if filters else "")]
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r.source, r.reason)] = counts.get((r.source, r.reason), 0) + 1
    lines.append(f"{len(rows):,} quarantined row(s):")
    lines += [f"  {s:<10} {why:<20} {n:>8,}" for (s, why), n in sorted(counts.items())]
    lines.append("file:line  reason  detail  | raw text")
    for r in rows[:limit]:
        lines.append(
            f"{r.file}:{r.line}  {r.reason}  {_one_line(r.detail, 160)}  | "
            f"{_one_line(r.raw, RAW_SHOWN)}"
        )
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit:,} more (use --limit, --source, --reason, --file)")
    return lines


@dataclass(frozen=True)
class FileLoad:
    source: str
    file: str
    status: str
    rows_loaded: int
    rows_quarantined: int
    error: str | None
    reasons: tuple[tuple[str, int], ...]  # most rows first


def file_loads(cfg: _settings.Settings) -> tuple[str, list[FileLoad] | None]:
    """Every landed file of meta.load_manifest with its loaded / quarantined rows and its
    quarantine reasons, read like `read_rows` (the build database when no run holds it,
    else the copy the last run left); None when there is nothing to read."""
    with _open_source(cfg) as (con, origin):
        if con is None:
            return origin, None
        has_manifest = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'src' "
            "and schema_name = 'meta' and table_name = 'load_manifest'"
        ).fetchone()[0]
        if not has_manifest:
            return origin, []
        reasons: dict[str, list[tuple[str, int]]] = {}
        for table in _quarantine_tables(con, "src"):
            for path, reason, n in con.execute(
                f"select _source_file, reason_code, count(*) "
                f"from src.quarantine.{quote_ident(table)} group by 1, 2"
            ).fetchall():
                reasons.setdefault(path, []).append((reason, n))
        rows = con.execute(
            "select source, file_path, status, coalesce(rows_loaded, 0), "
            "coalesce(rows_quarantined, 0), error from src.meta.load_manifest "
            "order by source, file_path"
        ).fetchall()
    return origin, [
        FileLoad(
            *r,
            reasons=tuple(sorted(reasons.get(r[1], []), key=lambda x: (-x[1], x[0]))),
        )
        for r in rows
    ]
