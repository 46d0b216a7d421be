"""Small DuckDB helpers shared by the pipeline: connecting to the build database, quoting.

DuckDB lets one process write a database file, and a writer blocks readers in other
processes; `connect` turns the lock error into a message that says which file and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class DatabaseBusyError(RuntimeError):
    """Another process holds the write lock on a DuckDB file."""


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    # Naive timestamps mean UTC everywhere in the warehouse; without this a cast of an
    # ISO string without offset to TIMESTAMPTZ would use the machine's local zone.
    con.execute("SET TimeZone = 'UTC'")


@contextmanager
def connect(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a DuckDB file (creating its folder when writing) and always close it.

    Sessions are in UTC. A read-only open of a missing file opens an empty in-memory database
    instead, so readers of a warehouse that was never built see "no rows", not an error.
    """
    path = Path(path)
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
    else:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(os.fspath(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise DatabaseBusyError(
                f"{path} is locked by another process (DuckDB allows one writer per file). "
                "Wait for the running pipeline step to finish, or close the tool that has it "
                f"open for writing. DuckDB said: {exc}"
            ) from exc
    try:
        _configure(con)
        yield con
    finally:
        con.close()


def quote_ident(name: str) -> str:
    """A SQL identifier for any string (column headers from files may hold spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    """A SQL string literal. Use only for values SQL cannot bind (table-function arguments,
    generated expressions); everything else goes through `?` parameters."""
    return "'" + value.replace("'", "''") + "'"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])
