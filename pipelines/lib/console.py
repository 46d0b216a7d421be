"""The job's console logger: Dagster's log lines on stderr without Python stack traces.

An expected failure (a gate, a bad input, the warehouse in use) is a one-line message the
user can act on; the stack trace behind it helps only whoever debugs the pipeline. This
logger prints each Dagster log line up to its stack trace and leaves the trace out, unless
its `tracebacks` config is true (`segments run --verbose`). Every event, trace included,
stays in the Dagster instance's event log (`make dev`, the run's page in the UI).

Registered as the `console` logger of the code location (pipelines/definitions.py), so the
run config `{"loggers": {"console": {"config": {"log_level": ...}}}}` keeps working.
"""

from __future__ import annotations

import logging
import re
import sys

import dagster as dg

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
# Where Dagster's rendering of an error (SerializableErrorInfo) starts its trace, and the
# chained causes after it.
_TRACE = re.compile(r"\n\s*(Stack Trace:|Traceback \(most recent call last\):)\n", re.S)
# A Failure rendered with its fully qualified class name (`<module path>.Failure: msg`)
# → `msg`: the module path is noise to the reader.
_QUALIFIED_FAILURE = re.compile(r"(?m)^(?:[a-z_][\w]*\.)+Failure: ")


def without_trace(message: str) -> str:
    """`message` up to the first stack trace, without a qualified `...Failure: ` prefix."""
    cut = _TRACE.search(message)
    if cut:
        message = message[: cut.start()].rstrip() + "\n(stack trace: --verbose, or the Dagster UI)"
    return _QUALIFIED_FAILURE.sub("", message)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (a redirect applies)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _NoTraceFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.msg, record.args = without_trace(record.getMessage()), None
        record.exc_info = record.exc_text = None
        return super().format(record)


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="dagster"),
        "tracebacks": dg.Field(
            bool,
            is_required=False,
            default_value=False,
            description="Print stack traces too (segments run --verbose).",
        ),
    },
    description="Dagster's log lines on stderr; stack traces only with `tracebacks: true`.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    log = logging.Logger(config["name"], level=config["log_level"].upper())
    handler = _StderrHandler()
    formatter_class = logging.Formatter if config["tracebacks"] else _NoTraceFormatter
    handler.setFormatter(formatter_class(FORMAT, DATE_FORMAT))
    log.addHandler(handler)
    return log
