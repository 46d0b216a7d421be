"""pipelines/lib/progress.py: stage lines and the event file, from a real (tiny) Dagster run
configured the way `segments run` configures the refresh job."""

# No `from __future__ import annotations`: Dagster checks the `context` annotation against
# the real class.
import io
from pathlib import Path

import dagster as dg

from pipelines.lib import progress


@dg.asset(key=["raw", "toy_orders"])
def toy_orders(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.warning("toy/orders.csv: 2 lines are odd")
    return dg.MaterializeResult(
        metadata={"rows_loaded": 1234, "files_loaded": 2, "rows_quarantined": 5}
    )


@dg.asset_check(asset=toy_orders)
def toy_rows_reconcile() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(key=["published", "toy_db"], deps=[toy_orders])
def toy_db() -> None:
    return None


def run(tmp_path: Path, tty: bool) -> tuple[str, str, Path, bool]:
    job = dg.Definitions(
        assets=[toy_orders, toy_db],
        asset_checks=[toy_rows_reconcile],
        loggers=progress.LOGGERS,
    ).resolve_implicit_global_asset_job_def()
    log = tmp_path / f"run-{tty}.log"
    out, err = io.StringIO(), io.StringIO()
    with progress.showing(out, err, tty=tty), dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            run_config={
                "loggers": {"event_file": {"config": {"path": str(log)}}, "stage_progress": {}}
            },
        )
    return out.getvalue(), err.getvalue(), log, result.success


def test_a_pipe_gets_one_plain_line_per_stage(tmp_path: Path) -> None:
    out, err, log, ok = run(tmp_path, tty=False)
    assert ok
    lines = out.splitlines()
    assert "\r" not in out and "\x1b" not in out
    ingest = [line for line in lines if "ingest toy_orders" in line]
    assert len(ingest) == 1, lines
    assert "1,234 rows from 2 new file(s), 5 quarantined" in ingest[0]
    assert any("checks" in line and "1 passed" in line for line in lines), lines
    assert any("publish" in line and "toy_db" in line for line in lines), lines
    assert len(lines) == 3, lines
    # the step's warning goes to stderr, once
    assert err.count("warning: toy/orders.csv: 2 lines are odd") == 1, err


def test_a_terminal_gets_the_running_stage_redrawn_in_place(tmp_path: Path) -> None:
    out, _, _, ok = run(tmp_path, tty=True)
    assert ok
    assert "\r" in out and "running (raw__toy_orders)" in out
    final = [line.split("\r")[-1] for line in out.split("\n") if line.split("\r")[-1].strip()]
    assert any("ingest toy_orders" in line for line in final), final


def test_the_event_file_holds_every_event(tmp_path: Path) -> None:
    _, _, log, _ = run(tmp_path, tty=False)
    text = log.read_text(encoding="utf-8")
    for event in ("RUN_START", "STEP_START", "ASSET_MATERIALIZATION", "RUN_SUCCESS"):
        assert event in text, event
    assert "toy/orders.csv: 2 lines are odd" in text


def test_outside_the_cli_the_progress_logger_prints_nothing(tmp_path: Path, capsys) -> None:
    job = dg.Definitions(
        assets=[toy_orders], loggers=progress.LOGGERS
    ).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(
            instance=instance, run_config={"loggers": {"stage_progress": {}}}
        ).success
    captured = capsys.readouterr()
    assert "ingest toy_orders" not in captured.out + captured.err
