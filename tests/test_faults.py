"""Faults, with real processes on a tiny generated data set (40 customers, 30 days).

One scenario, shared by the tests below (each full run costs about a minute here):

1. a BI reader process starts querying the published file in a loop, a fresh read-only
   connection per query, as a BI tool does, and keeps going until the end;
2. `segments run` publishes the reference state (uninterrupted, from an empty warehouse);
3. `segments run` is started as a process and SIGKILLed (with its dbt children) during
   ingest, and again during dbt; then the publish step itself, which a full run reaches once
   a minute, is run in a loop and SIGKILLed at several offsets into writing the new file;
4. `segments run` runs again to completion on the same data;
5. Shopify lines that pass ingest but break a critical expectation of
   expectations/raw_shopify_orders.json (a batch of 120 orders without email: the export
   lost the column) are landed, and a run fails on them.

After every kill the published file must be intact and readable, the rerun must give the
same tables as the uninterrupted run, the failed check must leave the published file byte
for byte unchanged, and the reader must never have seen an error or a state that was not
published.
"""

from __future__ import annotations

import contextlib
import csv
import io
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

import duckdb
import pytest

from pipelines.generate import generate
from pipelines.settings import PROJECT_ROOT
from tests.helpers import land_orders_without_email, sha256

END = date(2026, 9, 30)  # the as-of date of every run
RUN = ["run", "--as-of", END.isoformat()]
PUBLISHED_TABLES_CHECKED = ("customer_segments", "rfm_score_cutoffs")
# Kill points: log lines of `segments run` (Dagster's step start; dbt's own output).
INGEST_STEP = 'Started execution of step "raw__shopify_orders"'
DBT_MARTS = "START sql table model marts."


# --- what a BI tool sees ---------------------------------------------------------------


def table_state(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Rows and an order-independent hash of their content: equal states, equal tables."""
    rows, digest = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {table} AS t"
    ).fetchone()
    return f"{rows}:{digest}"


def published_state(path: Path) -> dict[str, str]:
    """The checked tables of the published file, opened read-only like a BI tool."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: table_state(con, t) for t in PUBLISHED_TABLES_CHECKED}


def parquet_rows(warehouse: Path) -> int:
    """Rows of customer_segments in the Parquet set `parquet/current` points at."""
    path = warehouse / "parquet" / "current" / "customer_segments.parquet"
    with duckdb.connect() as con:
        return con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]


# A BI tool in its own process: a fresh read-only connection per query, ~20 queries a second,
# until the stop file appears. One JSON line per query.
READER = """
import json, sys, time
from pathlib import Path
import duckdb
published, out, stop = Path(sys.argv[1]), open(sys.argv[2], "w"), Path(sys.argv[3])
while not stop.exists():
    seen = {"t": time.time()}
    if not published.exists():
        seen["missing"] = True  # before the first publish only
    else:
        try:
            with duckdb.connect(str(published), read_only=True) as con:
                seen["state"] = con.execute(
                    "SELECT count(*) || ':' || coalesce(sum(hash(t)::HUGEINT), 0) "
                    "FROM customer_segments AS t"
                ).fetchone()[0]
        except Exception as exc:
            seen["error"] = f"{type(exc).__name__}: {exc}"
    out.write(json.dumps(seen) + "\\n")
    out.flush()
    time.sleep(0.05)
"""

# The publish step's own code, in a loop, so that a kill lands inside it at a chosen offset.
PUBLISH_LOOP = """
import sys
from pathlib import Path
from pipelines.defs.publish.publish import publish
warehouse = Path(sys.argv[1])
print("publishing", flush=True)
while True:
    publish(warehouse / "build.duckdb", warehouse / "segments.duckdb",
            parquet_dir=warehouse / "parquet")
"""


# --- the scenario ----------------------------------------------------------------------


@dataclass
class Kill:
    """One SIGKILL and what the published file looked like after it."""

    point: str
    trigger: str  # the log line (or event) the kill waited for
    sha_before: str
    sha_after: str
    state_after: dict[str, str] | None
    parquet_rows_after: int | None
    error: str | None = None


@dataclass
class Scenario:
    root: Path
    reference: dict[str, str] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    rerun: dict[str, str] = field(default_factory=dict)
    gx_succeeded: bool | None = None
    gx_stderr: str = ""
    gx_sha: tuple[str, str] = ("", "")
    # `segments export` of one segment before the failed run, and after it with the build
    # database moved away: what it serves must be the published data.
    export_before: str = ""
    export_after: str = ""
    reader: list[dict] = field(default_factory=list)
    # Temp files of the killed publishes: before the rerun, and what the rerun left.
    debris_before_rerun: list[str] = field(default_factory=list)
    debris_after_rerun: list[str] = field(default_factory=list)
    # Wall-clock times (time.time(), as the reader stamps its reads): the kills start after
    # the first publish; the failed-gate run has ended.
    kills_started_at: float = 0.0
    failed_run_ended_at: float = 0.0

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def published(self) -> Path:
        return self.warehouse / "segments.duckdb"


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A process in its own group, so a kill takes its dbt children with it, as when the
    machine or container running the pipeline dies."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def inspect_after_kill(sc: Scenario, point: str, trigger: str, sha_before: str) -> Kill:
    try:
        state = published_state(sc.published)
        rows = parquet_rows(sc.warehouse)
        error = None
    except Exception as exc:  # recorded, asserted on by the tests
        state, rows, error = None, None, f"{type(exc).__name__}: {exc}"
    return Kill(point, trigger, sha_before, sha256(sc.published), state, rows, error)


def kill_run_at(sc: Scenario, env: dict[str, str], point: str, pattern: str) -> Kill:
    """Start `segments run`; SIGKILL it the moment a log line contains `pattern`."""
    before = sha256(sc.published)
    # --verbose: the kill points are Dagster's DEBUG events (a step starting), which the
    # console shows only when asked
    proc = spawn(env, "-m", "pipelines.cli", *RUN, "--verbose")
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        if pattern in line:
            kill(proc)
            return inspect_after_kill(sc, point, line.strip()[-160:], before)
        tail = [*tail[-30:], line]
    proc.wait()
    raise AssertionError(
        f"`segments run` ended ({proc.returncode}) before {pattern!r} appeared:\n{''.join(tail)}"
    )


def kill_publish_after(sc: Scenario, env: dict[str, str], seconds: float) -> Kill:
    """SIGKILL the publish step `seconds` after it started writing a new file."""
    before = sha256(sc.published)
    proc = spawn(env, "-c", PUBLISH_LOOP, str(sc.warehouse))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "publishing"
    known = set(sc.warehouse.glob(".segments.duckdb.*.tmp"))  # debris of earlier kills
    deadline = time.monotonic() + 120
    while not set(sc.warehouse.glob(".segments.duckdb.*.tmp")) - known:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the publish loop never started a new file"
        time.sleep(0.001)
    time.sleep(seconds)
    kill(proc)
    return inspect_after_kill(sc, f"publish+{seconds}s", "new file being written", before)


def export_args(warehouse: Path) -> list[str]:
    """`segments export` arguments for the largest segment of the published exports."""
    with open(warehouse / "exports" / "current" / "index.csv", newline="", encoding="utf-8") as fh:
        family, segment = max(
            ((r["segment_family"], r["segment"], int(r["rows"])) for r in csv.DictReader(fh)),
            key=lambda r: r[2],
        )[:2]
    return ["export", "--segment", segment, "--family", family, "--include-no-consent"]


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    sc = Scenario(tmp_path_factory.mktemp("faults"))
    landing = sc.root / "landing"
    values = {
        "SEGMENTS_LANDING_DIR": str(landing),
        "SEGMENTS_WAREHOUSE_DIR": str(sc.warehouse),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DAGSTER_HOME": str(sc.warehouse / "dagster_home"),
    }
    (sc.warehouse / "dagster_home").mkdir(parents=True)
    generate(landing, customers=40, days=30, seed=3, end_date=END)
    child_env = {**os.environ, **values, "PYTHONUNBUFFERED": "1"}
    child_env.pop("SEGMENTS_AS_OF_DATE", None)
    observations, stop = sc.root / "reader.jsonl", sc.root / "stop-reader"
    reader = spawn(child_env, "-c", READER, str(sc.published), str(observations), str(stop))
    try:
        with environment(values):
            from pipelines.cli import execute_refresh, main

            # The runs that must complete run in this process (saves a minute of imports).
            assert main(RUN) == 0, "the uninterrupted reference run failed"
            sc.reference = published_state(sc.published)

            sc.kills_started_at = time.time()
            sc.kills.append(kill_run_at(sc, child_env, "ingest", INGEST_STEP))
            sc.kills.append(kill_run_at(sc, child_env, "dbt", DBT_MARTS))
            for seconds in (0.0, 0.05, 0.25, 0.6):
                sc.kills.append(kill_publish_after(sc, child_env, seconds))

            debris = ".*.duckdb.*.tmp*"
            sc.debris_before_rerun = sorted(p.name for p in sc.warehouse.glob(debris))
            assert main(RUN) == 0, "the run after the kills failed"
            sc.debris_after_rerun = sorted(p.name for p in sc.warehouse.glob(debris))
            sc.rerun = published_state(sc.published)

            export = export_args(sc.warehouse)
            assert main([*export, "--output", str(sc.root / "before.csv")]) == 0
            sc.export_before = (sc.root / "before.csv").read_text(encoding="utf-8")

            land_orders_without_email(landing, END)
            before = sha256(sc.published)
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                sc.gx_succeeded = execute_refresh(END, END)
            sc.gx_stderr, sc.gx_sha = stderr.getvalue(), (before, sha256(sc.published))
            sc.failed_run_ended_at = time.time()

            build, away = sc.warehouse / "build.duckdb", sc.root / "build.duckdb.away"
            build.rename(away)
            try:
                assert main([*export, "--output", str(sc.root / "after.csv")]) == 0
            finally:
                away.rename(build)
            sc.export_after = (sc.root / "after.csv").read_text(encoding="utf-8")
    finally:
        stop.touch()
        reader.wait(timeout=60)
    sc.reader = [json.loads(line) for line in observations.read_text().splitlines()]
    yield sc


# --- the tests -------------------------------------------------------------------------

PIPELINE_KILLS = ("ingest", "dbt")
PUBLISH_KILLS = ("publish+0.0s", "publish+0.05s", "publish+0.25s", "publish+0.6s")


def kill_at(sc: Scenario, point: str) -> Kill:
    return next(k for k in sc.kills if k.point == point)


@pytest.mark.parametrize("point", PIPELINE_KILLS)
def test_run_killed_before_publish_leaves_the_published_file_byte_for_byte(
    scenario: Scenario, point: str
) -> None:
    k = kill_at(scenario, point)
    assert k.error is None, k.error
    assert k.sha_after == k.sha_before
    assert k.state_after == scenario.reference


@pytest.mark.parametrize("point", PUBLISH_KILLS)
def test_publish_killed_midway_leaves_a_complete_readable_file(
    scenario: Scenario, point: str
) -> None:
    # The file is the previous publish or the new one (same data, same tables), never a mix.
    k = kill_at(scenario, point)
    assert k.error is None, k.error
    assert k.state_after == scenario.reference
    assert k.parquet_rows_after == int(scenario.reference["customer_segments"].split(":")[0])


def test_rerun_removes_the_temp_files_of_killed_publishes(scenario: Scenario) -> None:
    # Regression: `.segments.duckdb.<uuid>.tmp` (+ .wal) of a killed publish stayed forever.
    assert scenario.debris_before_rerun, "the publish kills should have left temp files"
    assert scenario.debris_after_rerun == []


def test_rerun_after_the_kills_gives_the_same_tables_as_an_uninterrupted_run(
    scenario: Scenario,
) -> None:
    assert scenario.rerun == scenario.reference
    assert int(scenario.reference["customer_segments"].split(":")[0]) > 20


def test_failing_critical_expectation_keeps_the_published_checksum(scenario: Scenario) -> None:
    before, after = scenario.gx_sha
    assert scenario.gx_succeeded is False
    assert after == before
    assert "nothing was published" in scenario.gx_stderr
    assert "check raw/shopify_orders:gx_critical failed (ERROR): null_share(email)" in (
        scenario.gx_stderr
    )
    assert "files: shopify/late_adjustment.csv (120 rows" in scenario.gx_stderr
    assert "Traceback" not in scenario.gx_stderr and "Stack Trace" not in scenario.gx_stderr


def test_export_after_a_failed_gate_serves_the_published_data(scenario: Scenario) -> None:
    # The run failed its gate; exports read the published files, not build.duckdb (which was
    # even moved away for the second export).
    assert scenario.gx_succeeded is False
    assert scenario.export_before.count("\n") > 1
    assert scenario.export_after == scenario.export_before


def test_bi_reader_never_sees_an_error_or_a_half_written_table(scenario: Scenario) -> None:
    seen = scenario.reader
    first = next(i for i, s in enumerate(seen) if "missing" not in s)
    after_first_publish = seen[first:]
    published_states = {scenario.reference["customer_segments"]}

    assert [s["error"] for s in seen if "error" in s] == []
    assert not [s for s in after_first_publish if "missing" in s]  # never vanished
    assert {s["state"] for s in after_first_publish} <= published_states
    # It read all along: through the kills, the rerun and the failed run (however long they
    # take: a fixed 60 s failed once the runs got faster).
    assert len(after_first_publish) > 100
    assert after_first_publish[0]["t"] <= scenario.kills_started_at
    assert after_first_publish[-1]["t"] >= scenario.failed_run_ended_at
