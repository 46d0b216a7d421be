"""The first hour with your own data (issue 12): a 70k-line third-party CSV through the
`generic` source, run as a user runs it (`segments run` in a subprocess, stdout a pipe).

One module-scoped pair of runs over a CDNOW-shaped export (customer id, YYYYMMDD date,
quantity, amount; most customers bought once early and lapsed):

1. with a forgotten `timestamp_format` the run stops before dbt with one screen naming the
   file, the count, the reason, one raw line and the fix (mapping.yml and the format);
2. with the right format the run prints one line per stage (at most ~40 lines before the
   summary table), no ANSI codes, and the log file it names holds every Dagster event and
   dbt's node log;
3. on this lapsed base quintile recency makes some Champions `former`: the report and
   `segments status` say how many and name the fixed-threshold setting.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

LINES = 70_000
AS_OF = date(1998, 6, 30)
FIRST_DAY = date(1997, 1, 1)
WRONG = 'timestamp_format: "%Y-%m-%d %H:%M:%S"\n'
RIGHT = 'timestamp_format: "%Y%m%d"\n'
MAPPING = """\
{fmt}currency: USD
columns:
  customer_id: customer_id
  timestamp: date
  quantity: quantity
  amount: amount
"""
SUMMARY_START = "Customers per RFM segment"
ANSI = re.compile(r"\x1b\[")


def write_cdnow_like(path: Path, lines: int = LINES, seed: int = 1997) -> None:
    """CDNOW-shaped: every customer first buys in the first quarter of 1997, half buy again
    after a gap of ~3 months, and so on; 18 months of data, so most have lapsed by the end.
    One line per customer and purchase day, like the public CDNOW file."""
    rng = random.Random(seed)
    out = ["customer_id,date,quantity,amount"]
    last_day = (AS_OF - FIRST_DAY).days
    customer = 0
    while len(out) <= lines:
        customer += 1
        day = rng.randrange(0, 84)
        while day <= last_day and len(out) <= lines:
            quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
            amount = "0.00" if rng.random() < 0.002 else f"{quantity * rng.uniform(8, 30):.2f}"
            out.append(
                f"{customer:05d},{FIRST_DAY + timedelta(days=day):%Y%m%d},{quantity},{amount}"
            )
            if rng.random() < 0.45:
                break
            day += 1 + int(rng.expovariate(1 / 80))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _segments(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("first_hour")
    landing, warehouse = root / "landing", root / "warehouse"
    env = {
        **os.environ,
        "SEGMENTS_LANDING_DIR": str(landing),
        "SEGMENTS_WAREHOUSE_DIR": str(warehouse),
        "DAGSTER_HOME": str(warehouse / "dagster_home"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "SEGMENTS_START_DATE": "1997-01-01",
        # one snapshot: the test is about the output, not the history (keeps it fast)
        "SEGMENTS_HISTORY_MONTHS": "1",
        "SEGMENTS_HISTORY_DAILY_DAYS": "1",
    }
    env.pop("SEGMENTS_AS_OF_DATE", None)
    folder = landing / "generic" / "cdnow"
    write_cdnow_like(folder / "cdnow.csv")
    (folder / "mapping.yml").write_text(MAPPING.format(fmt=WRONG), encoding="utf-8")
    wrong = _segments(env, "run", "--as-of", AS_OF.isoformat())
    (folder / "mapping.yml").write_text(MAPPING.format(fmt=RIGHT), encoding="utf-8")
    right = _segments(env, "run", "--as-of", AS_OF.isoformat())
    status = _segments(env, "status")
    return {
        "wrong": wrong,
        "right": right,
        "status": status,
        "warehouse": warehouse,
        "csv": folder / "cdnow.csv",
    }


def test_the_generated_file_is_70k_lines_of_a_lapsed_base(runs) -> None:
    lines = runs["csv"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == LINES + 1  # + header
    assert lines[1].split(",")[1].isdigit() and len(lines[1].split(",")[1]) == 8  # YYYYMMDD


def test_a_wrong_timestamp_format_stops_in_one_screen_with_the_fix(runs) -> None:
    done = runs["wrong"]
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    err = done.stderr
    screen = err[err.index(" FAILED; ") :].splitlines()
    assert len(screen) <= 20, screen  # one screen
    text = "\n".join(screen)
    assert "generic/cdnow/cdnow.csv: 70,000 of 70,000 rows (100%) quarantined" in text
    assert "invalid_timestamp: 70,000 rows, e.g. line 2: 00001,1997" in text  # raw line
    assert (
        "does not match timestamp_format '%Y-%m-%d %H:%M:%S' in generic/cdnow/mapping.yml; "
        "set timestamp_format: '%Y%m%d'"
    ) in text
    assert "gx_critical" not in text  # it stops before dbt, not at the last mart check
    # stdout: the stage lines up to the failed ingest, nothing from dbt
    out = done.stdout.splitlines()
    assert any(line.startswith("[") and "ingest generic_transactions" in line for line in out)
    assert not any("dbt build" in line for line in out), out
    assert not ANSI.search(done.stdout + done.stderr)


def test_with_the_right_format_the_output_is_one_line_per_stage(runs) -> None:
    done = runs["right"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    progress = out[: out.index(SUMMARY_START)].strip().splitlines()
    print("\n".join(progress))
    assert len(progress) + len(done.stderr.splitlines()) <= 40, progress + [done.stderr]
    assert not ANSI.search(out + done.stderr)  # a pipe gets no colour codes
    assert "\r" not in out  # ... and no redrawn counter
    stages = [line for line in progress if line.startswith("[")]
    ingest = [line for line in stages if "ingest generic_transactions" in line]
    assert ingest and re.search(r"\d[\d,]* rows from 1 new file", ingest[0]), stages
    dbt = [line for line in stages if "dbt build" in line]
    counted = re.search(r"(\d+)/(\d+) models, seeds and tests done", dbt[0]) if dbt else None
    assert counted, stages
    # the total is what the job plans for the dbt step (every model, seed and test check)
    from pipelines.definitions import defs
    from pipelines.lib.progress import planned_per_step

    planned = planned_per_step(defs.assets)["warehouse_models"]
    assert int(counted.group(1)) == int(counted.group(2)) == planned > 100, dbt
    assert any("publish" in line for line in stages), stages
    assert all(re.match(r"\[\s*\d+\.\d+s\]", line) for line in stages)  # elapsed time


def test_the_log_file_named_at_start_and_end_holds_the_events(runs) -> None:
    out = runs["right"].stdout.splitlines()
    first = next(line for line in out if line.startswith("log: "))
    path = Path(first.removeprefix("log: ").strip())
    last = next(line for line in out if "succeeded" in line)
    assert str(path) in last
    assert path.parent == runs["warehouse"] / "logs"
    log = path.read_text(encoding="utf-8")
    assert "RUN_START" in log and "RUN_SUCCESS" in log
    assert "warehouse_models - STEP_START" in log  # DEBUG events, not shown on the console
    assert re.search(r"\d+ of \d+ OK created sql \w+ model marts\.customer_segments", log)
    assert not ANSI.search(log)


def test_status_and_report_say_what_quintile_recency_implies(runs) -> None:
    status = runs["status"]
    assert status.returncode == 0, status.stderr
    text = status.stdout
    # per source and per file
    assert re.search(r"generic\s+1\s+[\d,]+\s+[\d,]+ \(", text), text
    warned = [line for line in text.splitlines() if "WARNING:" in line and "Champions" in line]
    assert warned, text
    count = int(re.search(r"WARNING: ([\d,]+) of", warned[0]).group(1).replace(",", ""))
    assert count > 0
    assert "`former`" in warned[0] and "lapsing_max_days=365" in warned[0]
    assert "recency_scoring,fixed" in text and "rfm_settings.csv" in text
    # the same numbers as the published table says
    import duckdb

    with duckdb.connect(str(runs["warehouse"] / "segments.duckdb"), read_only=True) as con:
        former_champions = con.execute(
            "select count(*) from customer_segments where rfm_segment = 'Champions' "
            "and lifecycle_status = 'former' and r_score >= 4"
        ).fetchone()[0]
    assert count == former_champions
    report = (runs["warehouse"] / "report.html").read_text(encoding="utf-8")
    assert 'id="rule-warnings"' in report
    assert f"{former_champions:,} of" in report and "Champions" in report
