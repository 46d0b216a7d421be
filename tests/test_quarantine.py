"""`segments quarantine`: rejected rows read from the build database when no run holds it,
from the copy a run leaves behind while another run writes; never an open of build.duckdb
while a run holds the warehouse."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines import settings as _settings
from pipelines.cli import main
from pipelines.defs.ingest.assets import assets
from pipelines.quarantine import COPY_NAME
from pipelines.resources import default_resources
from pipelines.settings import PROJECT_ROOT

BAD = Path(__file__).resolve().parent / "fixtures" / "bad" / "non_numeric_amount"
PAYPAL = dg.AssetKey(["raw", "paypal_activity"])

HOLD = """
import sys, time
from pipelines.lib import runlock
with runlock.hold(sys.argv[1], "run-writing"):
    print("held", flush=True)
    sys.stdin.read()
"""


def load_bad_paypal(landing: Path) -> None:
    shutil.copytree(BAD / "paypal", landing / "paypal")
    asset = next(a for a in assets if a.key == PAYPAL)
    assert dg.materialize([asset], resources=default_resources()).success


def test_quarantine_lists_file_line_reason_and_raw_text(segments_env, capsys) -> None:
    load_bad_paypal(segments_env["landing"])
    assert main(["quarantine", "--source", "paypal", "--reason", "invalid_amount"]) == 0
    out = capsys.readouterr().out
    assert "(no run is writing it)" in out
    listed = [line for line in out.splitlines() if line.startswith("paypal/")]
    assert listed and all(" invalid_amount " in line and " | " in line for line in listed)
    assert main(["quarantine", "--reason", "no_such_reason"]) == 0
    assert "no quarantined rows matching reason=no_such_reason" in capsys.readouterr().out


def test_while_a_run_holds_the_warehouse_the_copy_is_read(segments_env, capsys) -> None:
    load_bad_paypal(segments_env["landing"])  # the run's end wrote the copy
    warehouse = segments_env["warehouse"]
    copy = warehouse / COPY_NAME
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # raw text can hold personal data
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, os.fspath(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.fspath(PROJECT_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # Proof that build.duckdb is not opened: it is not even there while the run "writes".
        build = _settings.load().build_db
        build.rename(build.with_suffix(".away"))
        assert main(["quarantine", "--file", "activity.csv"]) == 0
        out = capsys.readouterr().out
        assert "run run-writing" in out and str(copy) in out
        assert any(
            line.startswith("paypal/") and "invalid_amount" in line for line in out.splitlines()
        )
    finally:
        holder.communicate("")


def test_before_anything_is_loaded_it_says_so_and_creates_nothing(segments_env, capsys) -> None:
    warehouse = segments_env["warehouse"]
    before = sorted(p.name for p in warehouse.iterdir())
    assert main(["quarantine"]) == 0
    assert capsys.readouterr().out.startswith("no quarantine to show: nothing loaded yet")
    assert sorted(p.name for p in warehouse.iterdir()) == before


def test_status_shows_loads_per_source_and_file_from_the_copy_during_a_run(
    segments_env, capsys
) -> None:
    # Issue 12: `segments status` shows loaded / quarantined rows per source and per file
    # with the top reasons, and must not open build.duckdb while a run writes it.
    load_bad_paypal(segments_env["landing"])
    assert main(["status"]) == 0
    free = capsys.readouterr().out
    assert "loads:      from " in free and "(no run is writing it)" in free
    warehouse = segments_env["warehouse"]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, os.fspath(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.fspath(PROJECT_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        build = _settings.load().build_db
        build.rename(build.with_suffix(".away"))  # proof that it is not opened
        assert main(["status"]) == 0
        out = capsys.readouterr().out
    finally:
        holder.communicate("")
    lines = out.splitlines()
    assert any("run run-writing" in line and str(warehouse / COPY_NAME) in line for line in lines)
    source = [line for line in lines if line.strip().startswith("paypal ")]
    assert source and "%)" in source[0], out
    files = [line for line in lines if line.strip().startswith("paypal/")]
    assert files and "quarantined (invalid_amount " in files[0], out
    # the per-file lines agree with the per-source totals
    loaded, quarantined = (int(n.replace(",", "")) for n in source[0].split()[2:4])
    assert f"{loaded:,} loaded, {quarantined:,} quarantined" in files[0] or len(files) > 1
