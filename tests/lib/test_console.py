"""The job's console logger prints a failure's message, not its stack trace (lib/console.py)."""

from __future__ import annotations

import contextlib
import io

import dagster as dg

from pipelines.lib.console import console_logger, without_trace


@dg.op
def fails() -> None:
    raise dg.Failure(description="shopify/orders.csv: the file is a ZIP archive; export it as CSV")


@dg.job(logger_defs={"console": console_logger})
def failing_job() -> None:
    fails()


def _run(tracebacks: bool) -> str:
    err = io.StringIO()
    config = {"loggers": {"console": {"config": {"tracebacks": tracebacks}}}}
    with contextlib.redirect_stderr(err):
        result = failing_job.execute_in_process(
            run_config=config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
    assert not result.success
    return err.getvalue()


def test_a_failed_step_prints_its_message_without_the_stack_trace() -> None:
    out = _run(tracebacks=False)
    assert "shopify/orders.csv: the file is a ZIP archive; export it as CSV" in out
    assert "Stack Trace" not in out and 'File "' not in out and "Traceback" not in out
    assert "dagster._core" not in out  # the qualified class name of Failure is dropped
    assert "(stack trace: --verbose, or the Dagster UI)" in out


def test_verbose_keeps_the_stack_trace() -> None:
    out = _run(tracebacks=True)
    assert "Stack Trace" in out and "in fails" in out


def test_without_trace_cuts_at_the_first_trace_and_its_causes() -> None:
    message = (
        'Execution of step "x" failed.\n\n'
        "dagster._core.definitions.events.Failure: bad file\n\nStack Trace:\n"
        '  File "/a.py", line 1, in f\n\nThe above exception was caused by:\n'
        "ValueError: inner\n\nStack Trace:\n  File ..."
    )
    assert without_trace(message) == (
        'Execution of step "x" failed.\n\nbad file\n(stack trace: --verbose, or the Dagster UI)'
    )
    assert without_trace("no trace here") == "no trace here"
