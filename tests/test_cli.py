"""pipelines/cli.py run as a user runs it: `segments run` in a subprocess on a temp warehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

FIXTURES = Path(__file__).parent / "fixtures"


def segments(env: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "SEGMENTS_LANDING_DIR": str(env["landing"]),
        "SEGMENTS_WAREHOUSE_DIR": str(env["warehouse"]),
        "DAGSTER_HOME": str(env["warehouse"] / "dagster_home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_binary_file_in_the_landing_zone_is_named_in_one_line_and_nothing_is_published(
    segments_env: dict[str, Path],
) -> None:
    # Regression (issue 10): a 4 KiB random binary file named like a Shopify export made
    # `segments run` die with a UnicodeDecodeError traceback from the landing-zone pre-scan
    # that never named the file.
    shopify = segments_env["landing"] / "shopify"
    shopify.mkdir()
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", shopify)
    garbage = bytes((i * 7919 + 13) % 256 for i in range(4096))
    (shopify / "orders_export_garbage.csv").write_bytes(garbage)

    done = segments(segments_env, "run", "--as-of", "2024-03-31")

    assert done.returncode == 1
    named = [
        line
        for line in done.stderr.splitlines()
        if "shopify/orders_export_garbage.csv" in line and "binary file" in line
    ]
    assert named, done.stderr[-3000:]
    assert "UnicodeDecodeError" not in done.stderr + done.stdout
    assert "nothing was published" in done.stderr
    assert not (segments_env["warehouse"] / "segments.duckdb").exists()
    build = segments_env["warehouse"] / "build.duckdb"
    with duckdb.connect(str(build), read_only=True) as con:
        files = con.execute("select distinct _source_file from raw.shopify_orders").fetchall()
        status = con.execute(
            "select status from meta.load_manifest where file_path like '%garbage%'"
        ).fetchone()
    assert files == [("shopify/orders_export_2024-03.csv",)]  # nothing of the bad file
    assert status == ("failed",)


def test_a_failure_is_shown_without_the_exception_class_path() -> None:
    from types import SimpleNamespace

    from pipelines.status import failure_text

    error = SimpleNamespace(message="pkg.events.Failure: 1 file failed:\n  - a.csv: binary\n")
    assert failure_text(error) == "1 file failed:\n      - a.csv: binary"
    plain = SimpleNamespace(message="step failed: see the log")
    assert failure_text(plain) == "step failed: see the log"
    assert failure_text(None) == "failed"
