"""Time one command as a child process and record its peak memory.

Peak memory is the larger of two readings, because each misses something:

- the process tree's summed resident memory (the command plus its children, e.g. the dbt
  subprocess of a refresh), sampled from /proc every `SAMPLE_SECONDS`: sees processes that
  overlap, but can miss a peak shorter than the sampling interval;
- `ru_maxrss` from `wait4`: the largest single process of the tree, exact, but blind to two
  processes being large at the same time.

Linux carries a process's peak RSS across fork + exec, so a child forked straight from this
(large) harness would report the harness's own memory as its peak. Each command is therefore
started by `LAUNCHER`, a few lines of Python in a fresh interpreter (~10 MiB), which forks
the command, waits for it and reports its wall time and `ru_maxrss` through a file.

DuckDB runs inside the measured processes, so its buffer pool is in these figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

# argv: <report file> <command...>. Writes "<start epoch> <wall seconds> <ru_maxrss KiB>".
LAUNCHER = """
import os, subprocess, sys, time
started_at, started = time.time(), time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    f.write(f"{started_at!r} {seconds!r} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


@dataclass(frozen=True)
class Measurement:
    """One finished command: wall time, peak memory, exit code and where its output went."""

    label: str
    seconds: float
    peak_rss_bytes: int
    returncode: int
    log_path: Path
    started_at: float  # epoch seconds, to line up with Dagster's event timestamps

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _parent_pids() -> dict[int, int]:
    """pid → parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # exited between the listing and the read
            continue
        # the command name (field 2) may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rindex(b")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of the descendants of `root_pid`, summed (0 once they have exited)."""
    parents = _parent_pids()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, list(children.get(root_pid, ()))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE_BYTES
        except (OSError, IndexError, ValueError):
            continue
    return total


class _TreeSampler(threading.Thread):
    """Polls `tree_rss_bytes(root_pid)` until stopped; `peak` is the largest reading."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root_pid))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_measured(
    label: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path | None = None,
) -> Measurement:
    """Run `command` to completion with its stdout and stderr in `log_path`; never raises on a
    non-zero exit (the caller decides, and can point the user at the log)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    report = log_path.with_suffix(".rusage")
    report.unlink(missing_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER, os.fspath(report), *command],
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        sampler = _TreeSampler(proc.pid)  # the launcher's descendants: the command's tree
        sampler.start()
        returncode = proc.wait()
        sampler.stop()
    try:
        started_at, seconds, maxrss_kib = report.read_text().split()
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"the launcher of {label!r} wrote no timing to {report} (exit code {returncode}); "
            f"see {log_path}"
        ) from exc
    return Measurement(
        label=label,
        seconds=float(seconds),
        peak_rss_bytes=max(sampler.peak, int(maxrss_kib) * 1024),  # ru_maxrss is in KiB
        returncode=returncode,
        log_path=log_path,
        started_at=float(started_at),
    )


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a command's log, to quote in an error."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.rstrip().splitlines()[-lines:])
