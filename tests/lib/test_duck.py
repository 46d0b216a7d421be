"""DuckDB memory is bounded by default: a memory limit and a spill directory on every
pipeline connection (pipelines/lib/duck.py), overridable by environment variables."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from pipelines.lib import duck


def settings(con) -> tuple[str, str]:
    return con.execute(
        "select current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()


def test_default_memory_limit_is_4gb(monkeypatch):
    monkeypatch.delenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", raising=False)
    assert duck.memory_limit() == "4GB"
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
    assert limit.endswith("GiB") and float(limit.split()[0]) == pytest.approx(3.7, abs=0.1)
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


FOREVER = "select count(*) from range(1000000000000) t(x) where x % 7 = 3"


def test_an_interrupted_query_stops_the_run_not_just_the_step(tmp_path: Path):
    # DuckDB answers an interrupt with an ordinary error, which Dagster takes for a failed step
    # and goes on with the next ones; through connect() it is a KeyboardInterrupt, which stops
    # the run (execute_in_process ends it as interrupted).
    with pytest.raises(KeyboardInterrupt, match="build.duckdb: query interrupted") as caught:
        with duck.connect(tmp_path / "build.duckdb") as con:
            threading.Timer(0.3, con.interrupt).start()
            con.execute(FOREVER).fetchall()
    assert duck.interrupted(caught.value.__cause__)


def test_ctrl_c_during_a_query_is_a_keyboard_interrupt(tmp_path: Path):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt, match="query interrupted") as caught:
            with duck.connect(tmp_path / "build.duckdb") as con:
                threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
                con.execute(FOREVER).fetchall()
        assert duck.interrupted(caught.value.__cause__)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_other_errors_pass_through(tmp_path: Path):
    with pytest.raises(Exception, match="no_such_table") as caught:
        with duck.connect(tmp_path / "build.duckdb") as con:
            con.execute("select * from no_such_table")
    assert not isinstance(caught.value, KeyboardInterrupt)
