"""The customer_key secret: made once, private, stable from run to run, never silently changed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.defs.warehouse.customer_key import (
    SECRET_FILE_NAME,
    CustomerKeySecretError,
    ensure_customer_key_secret,
)


def _table_secret(build: Path) -> str:
    with duckdb.connect(str(build), read_only=True) as con:
        return con.execute("select secret from meta.customer_key_secret").fetchone()[0]


def test_secret_is_made_once_private_and_kept(tmp_path: Path):
    build = tmp_path / "build.duckdb"
    first = ensure_customer_key_secret(tmp_path, build)
    secret_file = tmp_path / SECRET_FILE_NAME
    secret = secret_file.read_text().strip()
    assert first["action"] == "generated a new secret"
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert _table_secret(build) == secret
    assert secret not in str(first)  # the asset's metadata never shows it
    again = ensure_customer_key_secret(tmp_path, build)
    assert again["action"] == "unchanged" and _table_secret(build) == secret


def test_deleted_secret_file_is_restored_from_the_build_database(tmp_path: Path):
    build = tmp_path / "build.duckdb"
    ensure_customer_key_secret(tmp_path, build)
    secret_file = tmp_path / SECRET_FILE_NAME
    secret = secret_file.read_text()
    secret_file.unlink()
    done = ensure_customer_key_secret(tmp_path, build)
    assert done["action"] == "restored the file from build.duckdb"
    assert secret_file.read_text() == secret
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_a_different_secret_file_stops_the_run_naming_the_file(tmp_path: Path):
    build = tmp_path / "build.duckdb"
    ensure_customer_key_secret(tmp_path, build)
    (tmp_path / SECRET_FILE_NAME).write_text("ab" * 32)
    with pytest.raises(CustomerKeySecretError, match=SECRET_FILE_NAME + " differs"):
        ensure_customer_key_secret(tmp_path, build)


def test_a_mangled_secret_file_is_refused(tmp_path: Path):
    (tmp_path / SECRET_FILE_NAME).write_text("password\n")
    with pytest.raises(CustomerKeySecretError, match="64-hex-digit"):
        ensure_customer_key_secret(tmp_path, tmp_path / "build.duckdb")


def test_history_keyed_without_a_secret_is_rebuilt(tmp_path: Path):
    # A warehouse from before keyed customer keys: its history holds unsalted md5 keys, which
    # the new keys would never match, so it is dropped and the run becomes a first refresh.
    build = tmp_path / "build.duckdb"
    with duckdb.connect(str(build)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.segment_snapshots as select md5('email:a@b.c') as k")
        con.execute("create table marts.customer_facts as select 1 as kept")
    done = ensure_customer_key_secret(tmp_path, build)
    assert done["history_dropped"] == ["marts.segment_snapshots"]
    with duckdb.connect(str(build), read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert "segment_snapshots" not in tables and "customer_facts" in tables
