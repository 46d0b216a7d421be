"""Fixtures that run the real dbt project against a DuckDB file in a temp dir.

dbt writes its target/ and logs/ into the temp dir too, so these tests never touch the
project's own manifest (which the Dagster code location reads) or data/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

DbtRunner = Callable[..., subprocess.CompletedProcess]


def run_dbt(
    db: Path,
    work_dir: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project with `db` as the build database (and `env` on top of this
    process's environment); raises with dbt's output."""
    env = {
        **os.environ,
        **(env or {}),
        "SEGMENTS_BUILD_DB": str(db),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        str(DBT),
        "--no-use-colors",
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


@pytest.fixture(scope="module")
def dbt_work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt")


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of `sql` on the build database, opened read-only."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
