"""Two runs at once, and a run killed with SIGKILL during dbt, with real `segments` processes.

One scenario (about three runs' time): run A starts; while its dbt build runs, run B is started
and `segments quarantine` reads the quarantine; then A alone (not its process group) is
SIGKILLed, leaving its `dbt build` child behind; `segments status` is asked; run C runs, and
as soon as it holds the warehouse run D starts with `--wait`: it waits for C, then runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from pipelines.generate import generate
from pipelines.lib import runlock
from pipelines.settings import PROJECT_ROOT
from tests.helpers import process_env

END = date(2026, 9, 30)
RUN = ["-m", "pipelines.cli", "run", "--as-of", END.isoformat()]
DBT_STARTED = "START sql"  # dbt's own output: the build is under way


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Scenario:
    run_a_id: str = ""
    run_a_pid: int = 0
    second_run: Outcome | None = None
    quarantine: Outcome | None = None
    orphan_pid: int | None = None
    orphan_alive_after_kill: bool = False
    status: Outcome | None = None
    run_c: Outcome | None = None
    orphan_alive_after_c: bool = True
    run_a_status: str = ""
    run_c_id: str = ""
    waiting_run: Outcome | None = None  # run D: `segments run --wait` while C runs
    run_a_stderr: str = ""
    leftovers: list[str] = field(default_factory=list)


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("coordination")
    landing, warehouse = root / "landing", root / "warehouse"
    generate(landing, customers=40, days=30, seed=5, end_date=END)
    env = process_env(landing, warehouse)
    sc = Scenario()
    log = (root / "run_a.log").open("w+")
    # --verbose: run A is watched for dbt's node log, which otherwise goes to the run log file
    run_a = subprocess.Popen(
        [sys.executable, *RUN, "--verbose"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while DBT_STARTED not in (root / "run_a.log").read_text():
            assert run_a.poll() is None, (root / "run_a.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "run A never reached dbt"
            time.sleep(0.2)
        holder = runlock.read_holder(warehouse)
        assert holder is not None
        sc.run_a_id, sc.run_a_pid = holder.run_id, holder.pid
        sc.second_run = cli(env, *RUN, timeout=120)
        sc.quarantine = cli(env, "-m", "pipelines.cli", "quarantine", timeout=120)
        assert run_a.poll() is None, "run A ended before it could be killed; use more data"
        pid_file = json.loads((warehouse / runlock.DBT_PID_NAME).read_text())
        sc.orphan_pid = pid_file["pid"]
        os.kill(run_a.pid, signal.SIGKILL)  # the run's process only, as `kill -9 <pid>` does
        run_a.wait(timeout=60)
        sc.orphan_alive_after_kill = alive(sc.orphan_pid)
        if sc.orphan_alive_after_kill:
            # Freeze it (a hung dbt): it must still be there when run C starts, so only the
            # clean-up can end it (SIGTERM stays pending on a stopped process; SIGKILL not).
            os.kill(sc.orphan_pid, signal.SIGSTOP)
        sc.status = cli(env, "-m", "pipelines.cli", "status", timeout=120)
        # Run C, and while it holds the warehouse, run D with --wait: D waits, then runs.
        c_log = root / "run_c.log"
        with c_log.open("w") as out:
            started = time.monotonic()
            run_c = subprocess.Popen(
                [sys.executable, *RUN], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out
            )
            try:
                holder = None
                deadline = time.monotonic() + 120
                # C holds the lock a moment before it writes its run id (is_held: STARTING)
                while holder is None or holder.run_id in (sc.run_a_id, runlock.STARTING):
                    assert run_c.poll() is None, c_log.read_text()[-3000:]
                    assert time.monotonic() < deadline, "run C never took the warehouse"
                    holder = runlock.is_held(warehouse)
                    time.sleep(0.05)
                sc.run_c_id = holder.run_id
                sc.waiting_run = cli(env, *RUN, "--wait")
            finally:
                run_c.wait(timeout=600)
        sc.run_c = Outcome(run_c.returncode, "", c_log.read_text(), time.monotonic() - started)
        sc.orphan_alive_after_c = alive(sc.orphan_pid)
        sc.leftovers = sorted(p.name for p in warehouse.glob(".*.tmp*"))
        sc.leftovers += (
            [runlock.DBT_PID_NAME] if (warehouse / runlock.DBT_PID_NAME).exists() else []
        )
    finally:
        if run_a.poll() is None:
            run_a.kill()
            run_a.wait()
        if sc.orphan_pid and alive(sc.orphan_pid):
            os.kill(sc.orphan_pid, signal.SIGKILL)
    yield sc


def test_second_run_stops_at_once_with_one_line_naming_the_running_run(scenario: Scenario) -> None:
    second = scenario.second_run
    assert second is not None
    assert second.rc == 1
    assert "Traceback" not in second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"run {scenario.run_a_id}" in lines[0] and f"pid {scenario.run_a_pid}" in lines[0]
    assert "since " in lines[0] and "--wait" in lines[0]


def test_reading_the_quarantine_during_a_run_does_not_touch_the_build_database(
    scenario: Scenario,
) -> None:
    out = scenario.quarantine
    assert out is not None
    assert out.rc == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert f"run {scenario.run_a_id}" in out.stdout  # says a run is writing, shows the copy


def test_killed_run_is_marked_failed_and_the_next_run_cleans_up(scenario: Scenario) -> None:
    status, run_c = scenario.status, scenario.run_c
    assert status is not None and run_c is not None
    assert f"marked failed: run {scenario.run_a_id}" in status.stdout, status.stdout
    assert f"last run:   {scenario.run_a_id}  FAILURE" in status.stdout
    assert run_c.rc == 0, run_c.stderr[-3000:]
    assert scenario.orphan_alive_after_kill, "dbt should outlive its killed parent"
    assert f"ended its orphaned dbt process (pid {scenario.orphan_pid})" in run_c.stderr
    assert f"run {scenario.run_a_id} " in run_c.stderr  # named in the clean-up warning
    assert not scenario.orphan_alive_after_c
    assert scenario.leftovers == []


def test_a_run_with_wait_waits_for_the_running_run_then_succeeds(scenario: Scenario) -> None:
    waiting, run_c = scenario.waiting_run, scenario.run_c
    assert waiting is not None and run_c is not None
    assert run_c.rc == 0, run_c.stderr[-3000:]
    assert waiting.rc == 0, waiting.stderr[-3000:]
    assert "Traceback" not in waiting.stderr
    # it said in one line whom it waits for (C, and since when), then ran to the end
    waits = [line for line in waiting.stdout.splitlines() if line.startswith("waiting ")]
    assert len(waits) == 1 and f"run {scenario.run_c_id} (pid " in waits[0], waiting.stdout
    assert "since " in waits[0]
    assert " succeeded: as of " in waiting.stdout
