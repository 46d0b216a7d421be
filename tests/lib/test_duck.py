"""DuckDB memory is bounded by default: a memory limit and a spill directory on every
pipeline connection (pipelines/lib/duck.py), overridable by environment variables."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from pipelines.lib import duck


def settings(con) -> tuple[str, str]:
    return con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()


def test_default_memory_limit_is_2gb(monkeypatch):
    monkeypatch.delenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", raising=False)
    assert duck.memory_limit() == "2GB"
    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1500MB")
    assert duck.memory_limit() == "1500MB"
    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="SEGMENTS_DUCKDB_MEMORY_LIMIT"):
        duck.memory_limit()


def test_connections_spill_next_to_the_database_by_default(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("SEGMENTS_DUCKDB_TEMP_DIR", raising=False)
    with duck.connect(tmp_path / "w" / "build.duckdb") as con:
        limit, temp = settings(con)
    assert limit.endswith("GiB") and float(limit.split()[0]) == pytest.approx(1.8, abs=0.1)  # 2GB
    assert Path(temp) == tmp_path / "w" / "tmp" / "duckdb"
    assert Path(temp).is_dir()


def test_the_spill_directory_can_be_set(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SEGMENTS_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1GB")
    with duck.connect(tmp_path / "build.duckdb") as con:
        limit, temp = settings(con)
    assert Path(temp) == tmp_path / "spill"
    assert limit.endswith("MiB") or limit.endswith("GiB")


def test_in_memory_connections_create_no_directory(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("SEGMENTS_DUCKDB_TEMP_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with duck.connect(":memory:") as con:
        assert con.execute("select 1").fetchone() == (1,)
    assert list(tmp_path.iterdir()) == []


def test_dbt_gets_the_spill_directory_under_the_warehouse(monkeypatch, tmp_path: Path):
    from pipelines import settings as settings_module

    monkeypatch.setenv("SEGMENTS_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.delenv("SEGMENTS_DUCKDB_TEMP_DIR", raising=False)
    env = settings_module.load().dbt_env()
    assert (
        Path(env["SEGMENTS_DUCKDB_TEMP_DIR"])
        == (tmp_path / "warehouse").resolve() / "tmp" / "duckdb"
    )


# ~35 s of one core when nothing stops it: a failed interrupt fails the test, it does not hang it
LONG = "select count(*) from range(10000000000) t(x) where x % 7 = 3"


def test_an_interrupted_query_stops_the_run_not_just_the_step(tmp_path: Path):
    # DuckDB answers an interrupt with an ordinary error, which Dagster takes for a failed step
    # and goes on with the next ones; through connect() it is a KeyboardInterrupt, which stops
    # the run (execute_in_process ends it as interrupted).
    with pytest.raises(KeyboardInterrupt, match="build.duckdb: query interrupted") as caught:
        with duck.connect(tmp_path / "build.duckdb") as con:
            threading.Timer(0.3, con.interrupt).start()
            con.execute(LONG).fetchall()
    assert duck.interrupted(caught.value.__cause__)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6, 1.0])
def test_ctrl_c_stops_a_query_at_once(tmp_path: Path, delay: float):
    # DuckDB's own check missed about one SIGINT in three (when a worker thread, not the
    # caller, ran the scan) and the query ran on; connect() interrupts on the signal itself.
    # Python's handler raises the KeyboardInterrupt, or connect() turns DuckDB's error into one.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with duck.connect(tmp_path / "build.duckdb") as con:
                started = time.monotonic()
                threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
                con.execute(LONG).fetchall()
        assert time.monotonic() - started < delay + 5
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_wakeup_descriptor_in_use_is_left_alone(tmp_path: Path):
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    try:
        with duck.connect(tmp_path / "build.duckdb") as con:
            assert signal.set_wakeup_fd(writer.fileno()) == writer.fileno()
            con.execute("select 1").fetchall()
        assert signal.set_wakeup_fd(writer.fileno()) == writer.fileno()
    finally:
        signal.set_wakeup_fd(-1)
        reader.close()
        writer.close()


def test_other_errors_pass_through(tmp_path: Path):
    with pytest.raises(Exception, match="no_such_table") as caught:
        with duck.connect(tmp_path / "build.duckdb") as con:
            con.execute("select * from no_such_table")
    assert not isinstance(caught.value, KeyboardInterrupt)


def test_dbt_profile_has_the_same_default_memory_limit():
    """dbt and the pipeline's own connections share one default (profiles.yml repeats it)."""
    profiles = (Path(__file__).parents[2] / "dbt_project" / "profiles.yml").read_text()
    defaults = re.findall(r"env_var\('SEGMENTS_DUCKDB_MEMORY_LIMIT', ''\) or '([^']+)'", profiles)
    assert defaults == [duck.DEFAULT_MEMORY_LIMIT]
