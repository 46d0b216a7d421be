"""Small DuckDB helpers shared by the pipeline: connecting to the build database, quoting.

DuckDB lets one process write a database file, and a writer blocks readers in other
processes; `connect` turns the lock error into a message that says which file and why.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb


class DatabaseBusyError(RuntimeError):
    """Another process holds the write lock on a DuckDB file."""


_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


DEFAULT_MEMORY_LIMIT = "2GB"


def memory_limit() -> str:
    """DuckDB's memory limit for every pipeline connection and for dbt (profiles.yml reads
    the same variable with the same default): SEGMENTS_DUCKDB_MEMORY_LIMIT, e.g. `6GB`;
    unset = 2GB. Past the limit DuckDB spills to its temp directory (`temp_directory`)
    instead of taking the RAM. DuckDB's buffer pool keeps what it has read until the limit,
    so a larger limit is mostly held, not needed: a 1M-transaction refresh peaked at 4.5 GiB
    under 4GB and at 2.7 GiB under 2GB in the same time (docs/performance.md, eleventh
    session)."""
    value = (os.environ.get("SEGMENTS_DUCKDB_MEMORY_LIMIT") or "").strip()
    if not value:
        return DEFAULT_MEMORY_LIMIT
    if not _MEMORY_LIMIT.match(value):
        raise ValueError(
            f"SEGMENTS_DUCKDB_MEMORY_LIMIT={value!r} is not a size DuckDB understands; "
            f"use e.g. 6GB or 1500MB, or leave it empty for the default ({DEFAULT_MEMORY_LIMIT})"
        )
    return value


def temp_directory(database: Path | str) -> Path:
    """Where DuckDB spills: SEGMENTS_DUCKDB_TEMP_DIR (Settings.dbt_env() sets it to
    `<warehouse dir>/tmp/duckdb` for dbt), else `tmp/duckdb` next to the database file."""
    value = (os.environ.get("SEGMENTS_DUCKDB_TEMP_DIR") or "").strip()
    return Path(value) if value else Path(database).parent / "tmp" / "duckdb"


def _configure(con: duckdb.DuckDBPyConnection, database: Path | None = None) -> None:
    # Naive timestamps mean UTC everywhere in the warehouse; without this a cast of an
    # ISO string without offset to TIMESTAMPTZ would use the machine's local zone.
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit()}'")  # validated: digits and a unit
    if database is not None:
        spill = temp_directory(database)
        try:
            spill.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # e.g. a read-only location: keep DuckDB's default (<database>.tmp)
        con.execute(f"SET temp_directory = {sql_str(os.fspath(spill))}")


@contextmanager
def connect(
    path: Path | str, *, read_only: bool = False, spill_next_to: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a DuckDB file (creating its folder when writing) and always close it.

    Sessions are in UTC, with the memory limit; they spill next to the database file (an
    in-memory session that attaches files: next to `spill_next_to`), and Ctrl-C interrupts
    their queries. A read-only open of a missing file opens an empty in-memory database
    instead, so readers of a warehouse that was never built see "no rows", not an error.
    """
    path = Path(path)
    database: Path | None = None
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
    else:
        database = None if os.fspath(path) == ":memory:" else path
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
        _configure(con, database or spill_next_to)
        with _ctrl_c.watching(con):
            yield con
    except (RuntimeError, duckdb.Error) as exc:
        if not interrupted(exc):
            raise
        # Ctrl-C (SIGINT) while DuckDB runs a query cancels the query with a RuntimeError, an
        # ordinary step failure to Dagster, which then went on with the next steps: a run
        # took one Ctrl-C per step to stop. As a KeyboardInterrupt the run stops there.
        raise KeyboardInterrupt(f"{path}: query interrupted (Ctrl-C or SIGINT)") from exc
    finally:
        con.close()


@contextmanager
def cursor(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Another connection to `con`'s database, for a worker thread: its own temp tables and
    session (set up like `connect`'s: UTC), the same attached databases, memory limit and
    DuckDB threads; Ctrl-C interrupts its queries too. Closed on exit."""
    cur = con.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        with _ctrl_c.watching(cur):
            yield cur
    finally:
        cur.close()


def on_worker_cursors(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[duckdb.DuckDBPyConnection], None],
    jobs: int,
    name: str,
) -> None:
    """Run `work(cursor)` on min(DuckDB's threads, `jobs`) worker threads at once, each with
    its own `cursor` of `con`'s database (`work` takes its jobs from a queue of its own); on
    `con` itself when that is one. A worker's error (or Ctrl-C) is raised here."""
    workers = min(threads(con), jobs)
    if workers <= 1:
        work(con)
        return
    with ExitStack() as stack:
        cursors = [stack.enter_context(cursor(con)) for _ in range(workers)]
        with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
            for future in [pool.submit(work, cur) for cur in cursors]:
                future.result()


def threads(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's worker threads for `con`'s database (its `threads` setting: the cores)."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    return max(1, int(row[0])) if row else 1


class _CtrlC:
    """Interrupts the open connections' queries on SIGINT, whichever thread runs them.

    DuckDB's Python client looks for a pending signal only between the tasks that the calling
    thread runs itself. When one of DuckDB's worker threads holds the long task (a scan of a
    big table, `range(...)`), the caller waits without looking, and Ctrl-C went unanswered
    until the query ended: one Ctrl-C in three, measured, and a second Ctrl-C did not help.
    Python's C-level handler writes every signal it catches to the wakeup descriptor
    (`signal.set_wakeup_fd`) at once, whatever the main thread is doing; a thread reading that
    descriptor calls `interrupt()` on every connection opened through `connect`. Python's own
    handler still raises KeyboardInterrupt in the main thread as soon as DuckDB returns.

    The descriptor is set from the main thread (where Python handles signals) when a
    connection opens there, and only if nobody else uses it (an asyncio loop does); it stays
    for the life of the process, so a KeyboardInterrupt during a connection's clean-up cannot
    leave it half removed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[int, duckdb.DuckDBPyConnection] = {}
        self._writer: socket.socket | None = None

    @contextmanager
    def watching(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        if threading.current_thread() is threading.main_thread():
            self._listen()
        with self._lock:
            self._connections[id(con)] = con
        try:
            yield
        finally:
            with self._lock:
                self._connections.pop(id(con), None)

    def _listen(self) -> None:
        if self._writer is None:
            reader, self._writer = socket.socketpair()
            self._writer.setblocking(False)
            threading.Thread(
                target=self._watch, args=(reader,), name="duckdb-ctrl-c", daemon=True
            ).start()
        ours = self._writer.fileno()
        previous = signal.set_wakeup_fd(ours, warn_on_full_buffer=False)
        if previous not in (-1, ours):  # someone else reads the signals: give it back
            signal.set_wakeup_fd(previous)

    def _watch(self, reader: socket.socket) -> None:
        while data := reader.recv(64):
            if signal.SIGINT not in data:
                continue
            with self._lock:
                for con in self._connections.values():
                    try:
                        con.interrupt()
                    except duckdb.Error:
                        pass  # closed meanwhile: nothing left to stop


_ctrl_c = _CtrlC()


def interrupted(exc: BaseException) -> bool:
    """Whether a DuckDB error is its answer to an interrupt (a signal or `con.interrupt()`)."""
    return isinstance(exc, duckdb.InterruptException) or str(exc) == "Query interrupted"


def quote_ident(name: str) -> str:
    """A SQL identifier for any string (column headers from files may hold spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    """A SQL string literal. Use only for values SQL cannot bind (table-function arguments,
    generated expressions); everything else goes through `?` parameters."""
    return "'" + value.replace("'", "''") + "'"


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None
) -> bool:
    """Whether `schema.table` exists; in the attached database `catalog` only, when given
    (a session with several files attached may hold the same name in each)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
        " AND (? IS NULL OR table_catalog = ?)",
        [schema, table, catalog, catalog],
    ).fetchone()
    return bool(row and row[0])
