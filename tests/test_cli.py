"""pipelines/cli.py run as a user runs it: `segments run` in a subprocess on a temp warehouse."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def environ(env: dict[str, Path]) -> dict[str, str]:
    return {
        **os.environ,
        "SEGMENTS_LANDING_DIR": str(env["landing"]),
        "SEGMENTS_WAREHOUSE_DIR": str(env["warehouse"]),
        "DAGSTER_HOME": str(env["warehouse"] / "dagster_home"),
    }


def segments(env: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=environ(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def land_one_shopify_month(env: dict[str, Path]) -> Path:
    """The Shopify export of 2024-03 in the landing zone; returns its folder."""
    shopify = env["landing"] / "shopify"
    shopify.mkdir()
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", shopify)
    return shopify


def test_binary_file_in_the_landing_zone_is_named_in_one_line_and_nothing_is_published(
    segments_env: dict[str, Path],
) -> None:
    # Regression (issue 10): a 4 KiB random binary file named like a Shopify export made
    # `segments run` die with a UnicodeDecodeError traceback from the landing-zone pre-scan
    # that never named the file.
    shopify = land_one_shopify_month(segments_env)
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


EXPECTED_LAYOUT = "expected layout: <landing>/<source>/<file> with <source> one of shopify/"


def test_a_misspelled_landing_dir_stops_before_anything_runs_in_one_line(
    segments_env: dict[str, Path],
) -> None:
    missing = segments_env["root"] / "landnig"
    done = segments({**segments_env, "landing": missing}, "run", "--as-of", "2024-03-31")

    assert done.returncode == 1
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: no files found in {missing} (SEGMENTS_LANDING_DIR)")
    assert "the directory does not exist" in lines[0]
    assert EXPECTED_LAYOUT in lines[0] and "generic/<name>/" in lines[0]
    assert "gx_critical" not in done.stderr
    assert not (segments_env["warehouse"] / "build.duckdb").exists()  # nothing ran
    assert not (segments_env["warehouse"] / "segments.duckdb").exists()


def test_an_empty_landing_dir_stops_in_one_line_for_run_and_backfill(
    segments_env: dict[str, Path],
) -> None:
    for args in (("run",), ("backfill", "--from", "2024-03-01", "--to", "2024-03-31")):
        done = segments(segments_env, *args)
        assert done.returncode == 1
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert f"no files found in {segments_env['landing']}" in lines[0]
        assert "the directory is empty" in lines[0] and EXPECTED_LAYOUT in lines[0]
    assert not (segments_env["warehouse"] / "build.duckdb").exists()


def test_files_where_no_source_reads_them_are_named_with_the_expected_layout(
    segments_env: dict[str, Path],
) -> None:
    landing = segments_env["landing"]
    (landing / "shopfy").mkdir()
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", landing / "shopfy")
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", landing / "orders.csv")

    # Only stray files: an error, nothing runs.
    done = segments(segments_env, "run", "--as-of", "2024-03-31")
    assert done.returncode == 1
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "no files found in the source folders of" in lines[0]
    assert "orders.csv, shopfy/ (1 file; did you mean shopify/?)" in lines[0]
    assert EXPECTED_LAYOUT in lines[0]
    assert not (segments_env["warehouse"] / "build.duckdb").exists()

    # With another source's files: a warning naming them, and the run loads the rest.
    (landing / "shopify").mkdir()
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", landing / "shopify")
    done = segments(segments_env, "run", "--as-of", "2024-03-31")
    warnings_ = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings_) == 1, done.stderr[-3000:]
    assert (
        "orders.csv, shopfy/ (1 file; did you mean shopify/?) lie where no source reads"
        in (warnings_[0])
    )
    assert EXPECTED_LAYOUT in warnings_[0]
    build = segments_env["warehouse"] / "build.duckdb"
    with duckdb.connect(str(build), read_only=True) as con:
        files = con.execute("select distinct _source_file from raw.shopify_orders").fetchall()
    assert files == [("shopify/orders_export_2024-03.csv",)]


def test_a_file_mostly_quarantined_stops_the_run_before_dbt_with_the_fix(
    segments_env: dict[str, Path],
) -> None:
    # Issue 12: a wrong timestamp_format quarantined every row, and the run only said
    # "customer_segments gx_critical" after building every model.
    from tests.defs.ingest.test_share import MAPPING, WRONG, cdnow_csv

    folder = segments_env["landing"] / "generic" / "cdnow"
    cdnow_csv(folder, 400)
    (folder / "mapping.yml").write_text(MAPPING.format(fmt=WRONG), encoding="utf-8")

    done = segments(segments_env, "run", "--as-of", "2024-03-31")

    assert done.returncode == 1
    err = done.stderr
    assert "nothing was published" in err
    assert "step raw__generic_transactions: 1 generic file(s) mostly quarantined" in err
    assert "generic/cdnow/cdnow.csv: 400 of 400 rows (100%) quarantined" in err
    assert "invalid_timestamp: 400 rows, e.g. line 2: 00000,20240101,1,10.50" in err
    assert (
        "timestamp '20240101' does not match timestamp_format '%Y-%m-%d %H:%M:%S' in "
        "generic/cdnow/mapping.yml; set timestamp_format: '%Y%m%d'"
    ) in err
    # Dagster's own log goes to stderr too; what the CLI says starts at "run <id> FAILED".
    summary = err[err.index(" FAILED; ") :].splitlines()
    print("\n".join(summary))
    assert len(summary) <= 20, summary  # one screen
    failed_steps = [line for line in summary if line.startswith("  step ")]
    assert len(failed_steps) == 1, summary  # the ingest step; nothing downstream ran
    assert "gx_critical" not in "\n".join(summary)
    assert "Traceback" not in err and "Stack Trace" not in err
    assert not (segments_env["warehouse"] / "segments.duckdb").exists()
    with duckdb.connect(str(segments_env["warehouse"] / "build.duckdb"), read_only=True) as con:
        built = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema not in ('raw', 'quarantine', 'meta')"
        ).fetchall()
    assert built == [], built  # dbt never started


def test_a_broken_segment_definition_stops_the_run_in_one_line_without_a_trace(
    segments_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A segment YAML the code location cannot load used to end `segments run` in a traceback.
    folder = segments_env["root"] / "segments"
    folder.mkdir()
    (folder / "broken.yml").write_text("name: broken\nwhere: [unclosed\n", encoding="utf-8")
    (segments_env["landing"] / "crm").mkdir()
    (segments_env["landing"] / "crm" / "contacts.csv").write_text("email\na@example.com\n")
    monkeypatch.setenv("SEGMENTS_DEFINITIONS_DIR", str(folder))

    done = segments(segments_env, "run", "--as-of", "2024-03-31")

    assert done.returncode == 2
    assert "Traceback" not in done.stderr and 'File "' not in done.stderr
    assert done.stderr.startswith("error: 1 problem in dynamic segment definitions")
    assert f"{folder / 'broken.yml'}, line 3" in done.stderr, done.stderr


def test_ctrl_c_while_the_run_starts_is_one_line_not_a_traceback(
    segments_env: dict[str, Path],
) -> None:
    land_one_shopify_month(segments_env)
    run = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--as-of", "2024-03-31"],
        env=environ(segments_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell starts background jobs with SIGINT ignored: give the run Python's default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert run.stdout is not None
    for line in run.stdout:
        if line.startswith("log: "):  # printed before Dagster starts the run
            run.send_signal(signal.SIGINT)
            break
    out, err = run.communicate(timeout=300)

    assert "Traceback" not in err, err[-3000:]
    # Ctrl-C before the first step (130), or in a step: the run fails, nothing published
    assert run.returncode in (130, 1), err[-3000:]
    assert "interrupted (Ctrl-C)" in err or "nothing was published" in err, err[-3000:]
    assert not (segments_env["warehouse"] / "segments.duckdb").exists()


def test_the_command_keeps_its_exit_code_and_output_when_it_skips_python_teardown(
    segments_env: dict[str, Path],
) -> None:
    """`segments` ends in an atexit handler with os._exit (cli.run): a usage error still
    exits 2, a refused date 1 with its message, a finished command 0 with all its output,
    and an exception escaping main 1 with the traceback."""
    usage = segments(segments_env, "--no-such-flag")
    assert usage.returncode == 2 and "segments: error:" in usage.stderr

    land_one_shopify_month(segments_env)
    future = segments(segments_env, "run", "--as-of", "2999-01-01")
    assert future.returncode == 1 and "is not over yet" in future.stderr

    status = segments(segments_env, "status")
    assert status.returncode == 0 and status.stdout.strip()

    crash = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pipelines.cli as c; c.main = lambda: 1 / 0; c.run()",
        ],
        env=environ(segments_env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crash.returncode == 1 and "ZeroDivisionError" in crash.stderr


def test_the_run_summary_takes_consent_notes_from_the_export_set_of_the_last_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import settings
    from pipelines.cli import _consent_notes

    monkeypatch.setenv("SEGMENTS_WAREHOUSE_DIR", str(tmp_path))
    cfg = settings.load()
    duckdb.connect(str(cfg.published_db)).close()  # published: no customers in it
    current = cfg.exports_dir / "current"
    current.mkdir(parents=True)
    (current / "consent.csv").write_text(
        "source,customers,without_consent_data,rule,note\n"
        "crm,10,0,crm,\n"
        "shop,5,5,crm,shop: no consent data for its 5 customers\n"
    )
    # written after the publish: read, not counted again
    assert _consent_notes(cfg) == ["shop: no consent data for its 5 customers"]
    # older than the published file (its exports failed): counted from the published files
    published = cfg.published_db.stat().st_mtime
    os.utime(current / "consent.csv", (published - 60, published - 60))
    assert _consent_notes(cfg) == []
