"""One run at a time: the warehouse lock, and what a killed run leaves behind.

DuckDB lets one process write `build.duckdb`, and a writer blocks readers in other processes.
Two runs at once used to fail deep in a trace ("database is locked"); now every run takes
`<warehouse dir>/.run.lock` first (an `flock`, so the kernel frees it when the process dies,
even on SIGKILL) and writes into it who holds it: run id, pid, start time. A second run waits
or stops with one line naming that run. Short readers of the build database (the landing
sensor, `segments quarantine`) take the same lock *shared*, so a run never starts while they
read, and they never open the file while a run writes it.

A run killed with SIGKILL cannot clean up, so the next holder of the lock does it (`sweep`):
it terminates the `dbt build` child the dead run left (its pid is in `.dbt.pid`, checked
against the process's start time so a recycled pid is never hit), removes the temp files of a
publish killed mid-way (`.segments.duckdb.<uuid>.tmp` + `.wal`), and returns the dead run's
id so the caller marks it failed in the Dagster instance.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".run.lock"
DBT_PID_NAME = ".dbt.pid"
# Temp files of publish.publish(): `.<published name>.<uuid hex>.tmp` (+ DuckDB's `.wal`).
TMP_PATTERNS = (".*.duckdb.*.tmp", ".*.duckdb.*.tmp.wal")
# How long a run waits for *readers* (sensor tick, `segments quarantine`) to let go: they
# hold the shared lock for well under a second.
READER_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.5


class WarehouseBusyError(RuntimeError):
    """Another run holds the warehouse; the message names it in one line."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the warehouse lock."""

    run_id: str
    pid: int
    started_at: str  # ISO 8601, UTC
    host: str

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started_at})"


# the run id is_held reports while a run holds the lock but has not yet written who it is
STARTING = "(starting)"


def lock_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / LOCK_NAME


def read_holder(warehouse_dir: Path) -> Holder | None:
    """The holder written in the lock file (the current one, or a run that died holding it)."""
    try:
        data = json.loads(lock_path(warehouse_dir).read_text() or "null")
        return Holder(**data) if data else None
    except (OSError, ValueError, TypeError):
        return None


def _open(warehouse_dir: Path) -> int:
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True)
    return os.open(lock_path(warehouse_dir), os.O_RDWR | os.O_CREAT, 0o644)


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def _running(holder: Holder) -> bool:
    """Whether the holder's process still exists (always assumed for another host)."""
    if holder.host != socket.gethostname():
        return True
    return Path(f"/proc/{holder.pid}").exists()


def busy_message(warehouse_dir: Path, holder: Holder | None) -> str:
    who = holder.describe() if holder else "another process (a reader of the build database)"
    return (
        f"the warehouse {warehouse_dir} is in use by {who}; one run at a time: wait for it "
        "to finish (`segments status`), or run again with --wait"
    )


def is_held(warehouse_dir: Path) -> Holder | None:
    """The run holding the warehouse now, or None when no run holds it (does not wait)."""
    if not lock_path(warehouse_dir).exists():
        return None
    fd = _open(warehouse_dir)
    try:
        if _try(fd, fcntl.LOCK_SH):
            return None
        return read_holder(warehouse_dir) or Holder(STARTING, 0, "-", "-")
    finally:
        os.close(fd)


@contextmanager
def hold(
    warehouse_dir: Path, run_id: str, *, wait_seconds: float = 0.0, on_wait=None
) -> Iterator[Holder | None]:
    """Hold the warehouse exclusively for run `run_id`. Yields the previous holder written in
    the lock file if that run died holding it (SIGKILL), else None.

    Waits up to READER_GRACE_SECONDS for readers, and up to `wait_seconds` for another run;
    then raises WarehouseBusyError naming the run that holds it. `on_wait(message)` is called
    once when waiting for a run starts.
    """
    fd = _open(warehouse_dir)
    try:
        started = time.monotonic()
        told = False
        while not _try(fd, fcntl.LOCK_EX):
            holder = read_holder(warehouse_dir)
            if holder is not None and not _running(holder):
                holder = None  # written by a run that died; readers hold the lock meanwhile
            waited = time.monotonic() - started
            limit = wait_seconds if holder else max(wait_seconds, READER_GRACE_SECONDS)
            if waited >= limit:
                raise WarehouseBusyError(busy_message(warehouse_dir, holder))
            if holder and not told and on_wait is not None:
                on_wait(f"waiting for {holder.describe()} to release {warehouse_dir}")
                told = True
            time.sleep(POLL_SECONDS)
        previous = read_holder(warehouse_dir)  # still written: its run died holding the lock
        me = Holder(
            run_id,
            os.getpid(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            socket.gethostname(),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        try:
            yield previous if previous and previous.run_id != run_id else None
        finally:
            os.ftruncate(fd, 0)  # a clean release leaves no holder behind
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def reading(warehouse_dir: Path) -> Iterator[bool]:
    """A short read of the build database outside a run: yields True while holding the lock
    shared (no run can start until the block ends), False when a run holds it (do not open
    the build database then)."""
    fd = _open(warehouse_dir)
    try:
        yield _try(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def record_child(warehouse_dir: Path, pid: int) -> None:
    """Remember a child (the `dbt build` process) so a later run can end it if we are killed."""
    path = Path(warehouse_dir) / DBT_PID_NAME
    path.write_text(json.dumps({"pid": pid, "start": _start_time(pid)}))


def forget_child(warehouse_dir: Path) -> None:
    (Path(warehouse_dir) / DBT_PID_NAME).unlink(missing_ok=True)


def _alive(pid: int, start: str | None) -> bool:
    return start is not None and _start_time(pid) == start


def end_orphan(warehouse_dir: Path, timeout: float = 15.0) -> int | None:
    """Terminate the recorded child if it still runs (SIGTERM, then SIGKILL); its pid or None."""
    path = Path(warehouse_dir) / DBT_PID_NAME
    try:
        data = json.loads(path.read_text())
        pid, start = int(data["pid"]), data.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    ended = None
    if _alive(pid, start):
        ended = pid
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid, start) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid, start):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid, start) and time.monotonic() < deadline + 5:
                time.sleep(0.1)
    path.unlink(missing_ok=True)
    return ended


def remove_publish_leftovers(warehouse_dir: Path) -> list[Path]:
    """Delete temp files of publishes killed mid-way. Call only while holding the lock."""
    removed = []
    for pattern in TMP_PATTERNS:
        for path in Path(warehouse_dir).glob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@dataclass(frozen=True)
class Sweep:
    dead_run: Holder | None
    orphan_pid: int | None
    removed: tuple[Path, ...]

    def lines(self) -> list[str]:
        out = []
        if self.dead_run:
            out.append(f"{self.dead_run.describe()} died without finishing (killed?)")
        if self.orphan_pid:
            out.append(f"ended its orphaned dbt process (pid {self.orphan_pid})")
        if self.removed:
            out.append(f"removed {len(self.removed)} temp file(s) of an interrupted publish")
        return out


def sweep(warehouse_dir: Path, previous: Holder | None) -> Sweep:
    """Clean up after a run that died holding the lock. Call only while holding the lock."""
    orphan = end_orphan(warehouse_dir)
    removed = remove_publish_leftovers(warehouse_dir)
    return Sweep(previous, orphan, tuple(removed))
