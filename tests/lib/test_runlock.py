"""The warehouse lock and the clean-up after a killed run, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.lib import runlock
from pipelines.settings import PROJECT_ROOT

# A run that holds the warehouse and has a long-lived child (standing in for `dbt build`),
# recorded as the run records its dbt child; it prints "held" and waits to be killed.
HOLDER = """
import subprocess, sys, time
from pipelines.lib import runlock
warehouse = sys.argv[1]
with runlock.hold(warehouse, "run-killed"):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    runlock.record_child(warehouse, child.pid)
    print("held", child.pid, flush=True)
    time.sleep(300)
"""


def spawn_holder(warehouse: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": os.fspath(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, os.fspath(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    word, child = proc.stdout.readline().split()
    assert word == "held"
    return proc, int(child)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_a_second_holder_is_refused_in_one_line_naming_the_first(tmp_path: Path) -> None:
    proc, child = spawn_holder(tmp_path)
    try:
        holder = runlock.is_held(tmp_path)
        assert holder is not None and holder.run_id == "run-killed" and holder.pid == proc.pid
        started = time.monotonic()
        with pytest.raises(runlock.WarehouseBusyError) as err:
            with runlock.hold(tmp_path, "second", wait_seconds=1):
                pass
        assert 1 <= time.monotonic() - started < 10
        message = str(err.value)
        assert "\n" not in message
        assert "run run-killed" in message and f"pid {proc.pid}" in message
        assert "since 20" in message
        with runlock.reading(tmp_path) as free:
            assert free is False  # readers keep off the build database while a run holds it
    finally:
        proc.kill()
        proc.wait()
        os.kill(child, signal.SIGKILL)


def test_next_holder_ends_the_orphan_child_and_removes_publish_leftovers(tmp_path: Path) -> None:
    proc, child = spawn_holder(tmp_path)
    leftovers = [tmp_path / ".segments.duckdb.0f0f.tmp", tmp_path / ".audited.duckdb.0f0f.tmp.wal"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    kept = tmp_path / "segments.duckdb"
    kept.write_bytes(b"published")
    proc.send_signal(signal.SIGKILL)  # the run only: its child is left behind
    proc.wait()
    assert alive(child), "the child should outlive a SIGKILLed parent (what the sweep is for)"
    assert runlock.is_held(tmp_path) is None  # the kernel freed the flock

    with runlock.hold(tmp_path, "next") as dead:
        assert dead is not None and dead.run_id == "run-killed" and dead.pid == proc.pid
        swept = runlock.sweep(tmp_path, dead)
    assert swept.orphan_pid == child
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    assert not any(p.exists() for p in leftovers)
    assert kept.read_bytes() == b"published"
    assert not (tmp_path / runlock.DBT_PID_NAME).exists()
    # A clean release leaves no holder behind: the run after it finds no dead run.
    with runlock.hold(tmp_path, "after") as dead:
        assert dead is None


def test_a_recycled_pid_is_never_killed(tmp_path: Path) -> None:
    # The pid file names this very process with another start time: a pid reused since.
    (tmp_path / runlock.DBT_PID_NAME).write_text(f'{{"pid": {os.getpid()}, "start": "1"}}')
    assert runlock.end_orphan(tmp_path) is None
    assert not (tmp_path / runlock.DBT_PID_NAME).exists()


def test_a_reader_after_a_killed_run_is_waited_for_not_taken_for_that_run(
    tmp_path: Path,
) -> None:
    proc, child = spawn_holder(tmp_path)
    proc.kill()
    proc.wait()
    os.kill(child, signal.SIGKILL)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pipelines.lib import runlock\n"
            "with runlock.reading(sys.argv[1]):\n    print('reading', flush=True); time.sleep(2)",
            os.fspath(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.fspath(PROJECT_ROOT)},
    )
    assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
    # The lock file still names the dead run; the next run waits out the reader (no wait
    # asked) instead of refusing in the dead run's name.
    with runlock.hold(tmp_path, "next", wait_seconds=0) as dead:
        assert dead is not None and dead.run_id == "run-killed"
    reader.wait()


def test_a_waiting_run_says_whom_it_waits_for_and_starts_when_the_lock_is_free(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pipelines.lib import runlock\n"
            "with runlock.hold(sys.argv[1], 'run-first'):\n"
            "    print('held', flush=True); time.sleep(2)",
            os.fspath(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.fspath(PROJECT_ROOT)},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    told: list[str] = []
    started = time.monotonic()
    with runlock.hold(tmp_path, "run-second", wait_seconds=60, on_wait=told.append) as dead:
        assert dead is None  # the first run released it cleanly
        assert runlock.read_holder(tmp_path).run_id == "run-second"
    assert 0.5 < time.monotonic() - started < 30
    assert len(told) == 1 and "run run-first (pid" in told[0]
    holder.wait()
