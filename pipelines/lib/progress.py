"""What `segments run` prints while the refresh job runs: one line per stage, not a log.

Two Dagster loggers (https://docs.dagster.io/guides/monitor/logging/custom-logging), added to
the code location and switched on by the CLI through run config (`loggers:`). A run without
`loggers:` in its run config (schedule, sensor, UI) keeps Dagster's default console logger.

- `event_file` writes every Dagster event of the run, DEBUG and up, as plain text to
  `config.path`. The CLI also sends the run's stdout/stderr there (dbt's node log, which
  dagster-dbt prints to stdout), so the file holds everything a `--verbose` run shows.
- `stage_progress` turns the event stream into stage lines on the stream the CLI hands it
  (`showing(stream)`): ingest per source with rows and files, checks, the dbt build with
  models / tests done out of those planned, dynamic segments, publish, each with the elapsed
  time. On a terminal the running stage is redrawn in place (a counter for dbt); elsewhere
  (a pipe, a file, CI) only finished stages are printed, with no control characters.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

import dagster as dg

from pipelines.lib.console import console_logger

FILE_FORMAT = "%(asctime)s %(levelname)s %(message)s"
REDRAW_EVERY_S = 0.25
LABEL = 30  # width of the stage column  # a terminal's counter is redrawn at most this often

_lock = threading.Lock()
_active: StageProgress | None = None


@dataclass
class _Step:
    key: str
    started: float
    planned: int = 0  # materialisations + check evaluations planned for this step
    done: int = 0
    materialized: list[dg.AssetKey] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)
    checks_passed: int = 0
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)


@dataclass
class _Stage:
    name: str
    started: float
    steps: int = 0
    checks_passed: int = 0
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    failed: bool = False
    ended: float | None = None


def stage_of(step_key: str, is_check: bool) -> str:
    """The stage a step belongs to, by the job's step keys (pipelines/defs/*)."""
    if is_check:
        return "checks"
    if step_key.startswith("raw__"):
        return "ingest " + step_key.removeprefix("raw__")
    if step_key == "warehouse_models":
        return "dbt build"
    if step_key == "meta__run_as_of_dates":
        return "as-of dates"
    if step_key.startswith("meta__"):
        return "setup"
    if step_key.startswith("published__"):
        return "publish"
    return "segments"


def _is_check_step(step_key: str) -> bool:
    return (
        step_key.startswith("gx_")
        or step_key.endswith(("_reconcile", "_freshness"))
        or ("_reconciles_" in step_key)
    )


class StageProgress:
    """Stage lines from Dagster log records (fed by the `stage_progress` logger)."""

    def __init__(
        self,
        out: TextIO,
        err: TextIO | None = None,
        tty: bool | None = None,
        planned: dict[str, int] | None = None,
    ) -> None:
        self.out = out
        self.err = err or out
        self.tty = out.isatty() if tty is None else tty
        self.t0 = time.monotonic()
        self.steps: dict[str, _Step] = {}
        # materialisations + check evaluations each step will report (planned_per_step)
        self.planned: dict[str, int] = dict(planned or {})
        self.stage: _Stage | None = None
        self.skipped: list[str] = []
        self.lines = 0
        self._drawn = 0.0
        # a redrawn line must not wrap, or "\r" cannot go back over it
        self.width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        self._pending = False  # a redrawable line is on the terminal

    # -- output ---------------------------------------------------------------------------
    def _elapsed(self, at: float | None = None) -> str:
        return f"[{(at or time.monotonic()) - self.t0:6.1f}s]"

    def _write_line(self, text: str, stream: TextIO | None = None) -> None:
        if self._pending:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()
            self._pending = False
        stream = stream or self.out
        stream.write(text + "\n")
        stream.flush()
        self.lines += 1

    def _redraw(self, text: str, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW_EVERY_S:
            return
        self._drawn = now
        self.out.write("\r" + text[: self.width].ljust(self.width))
        self.out.flush()
        self._pending = True

    # -- stages ---------------------------------------------------------------------------
    def _flush_stage(self) -> None:
        stage, self.stage = self.stage, None
        if stage is None or stage.steps == 0 or stage.name.startswith("ingest "):
            return
        ended = stage.ended or time.monotonic()
        took = ended - stage.started
        if stage.name == "checks":
            parts = [f"{stage.checks_passed} passed"]
            if stage.checks_warned:
                parts.append(f"{len(stage.checks_warned)} warned: " + _names(stage.checks_warned))
            if stage.checks_failed:
                parts.append(f"{len(stage.checks_failed)} FAILED: " + _names(stage.checks_failed))
            text = ", ".join(parts)
        else:
            text = ("; " if stage.name != "publish" else ", ").join(stage.details)
            text = text or f"{stage.steps} step(s) done"
        if stage.failed:
            text += " — FAILED"
        self._write_line(f"{self._elapsed(ended)} {stage.name:<{LABEL}} {text}  ({took:.1f} s)")

    def _enter(self, name: str) -> _Stage:
        if self.stage is None or self.stage.name != name:
            self._flush_stage()
            self.stage = _Stage(name, time.monotonic())
        return self.stage

    def step_started(self, key: str) -> None:
        self.steps[key] = _Step(key, time.monotonic(), planned=self.planned.get(key, 0))
        label = stage_of(key, _is_check_step(key))
        self._enter(label)  # a new stage: the previous one's line is printed now
        self._redraw(f"{self._elapsed()} {label:<{LABEL}} running ({key})", force=True)

    def step_progress(self, key: str) -> None:
        step = self.steps.get(key)
        if step is None:
            return
        step.done += 1
        if key == "warehouse_models" and step.planned:
            done = min(step.done, step.planned)
            width = 24
            bar = "#" * (width * done // step.planned)
            self._redraw(
                f"{self._elapsed()} {'dbt build':<{LABEL}} [{bar:<{width}}] "
                f"{done}/{step.planned} models, seeds and tests"
            )

    def step_finished(self, key: str, ok: bool) -> None:
        step = self.steps.get(key) or _Step(key, time.monotonic())
        is_check = _is_check_step(key) or (
            not step.materialized
            and (step.checks_passed + len(step.checks_warned) + len(step.checks_failed)) > 0
        )
        name = stage_of(key, is_check)
        stage = self._enter(name)
        stage.steps += 1
        stage.failed |= not ok
        stage.ended = time.monotonic()
        stage.checks_passed += step.checks_passed
        stage.checks_warned += step.checks_warned
        stage.checks_failed += step.checks_failed
        took = time.monotonic() - step.started
        if name.startswith("ingest "):
            self.stage = None
            self._write_line(
                f"{self._elapsed()} {name:<{LABEL}} {_ingest_text(step.metadata, ok)}  "
                f"({took:.1f} s)"
            )
            return
        if name == "dbt build":
            done = min(step.done, step.planned) if step.planned else step.done
            text = f"{done}/{step.planned or step.done} models, seeds and tests done"
            if step.checks_warned or step.checks_failed:
                text += (
                    f"; tests: {len(step.checks_warned)} warned, {len(step.checks_failed)} failed"
                )
            stage.details.append(text)
            # dbt's tests are checks too, but they are reported on the dbt line
            stage.checks_passed, stage.checks_warned, stage.checks_failed = 0, [], []
        elif name == "as-of dates" and "snapshots" in step.metadata:
            stage.details.append(
                f"{step.metadata['snapshots']} snapshot(s), "
                f"{step.metadata.get('first_as_of_date')} .. {step.metadata.get('last_as_of_date')}"
            )
        elif name == "setup" and "action" in step.metadata:
            stage.details.append(f"customer_key secret: {step.metadata['action']}")
        elif name == "publish":
            stage.details.append(key.removeprefix("published__"))
        elif name == "segments" and "segments" in step.metadata:
            members = sum(
                int(v) for k, v in step.metadata.items() if k.startswith("members_") and v
            )
            stage.details.append(
                f"{step.metadata['segments']} dynamic segment(s), {members:,} members"
            )
        elif name == "segments":
            stage.details.append(", ".join(k.to_user_string() for k in step.materialized) or key)

    def message(self, record: logging.LogRecord, step_key: str | None) -> None:
        """A plain log line (not an event): warnings and errors of our own steps, and what a
        resource says (waiting for the warehouse), are shown; dagster-dbt's notes about dbt
        tests outside the check selection are not."""
        meta = getattr(record, "dagster_meta", None) or {}
        # resources speak rarely and matter (the warehouse lock: waiting for another run)
        shown = record.levelno >= logging.WARNING or (
            record.levelno >= logging.INFO and meta.get("resource_name")
        )
        if not shown or step_key == "warehouse_models":
            return
        text = str(meta.get("orig_message") or record.getMessage()).strip().splitlines()
        if text:
            self._write_line(
                f"{self._elapsed()} {'':<{LABEL}} {record.levelname.lower()}: {text[0]}",
                self.err,
            )

    def finish(self) -> None:
        self._flush_stage()
        if self.skipped:
            self._write_line(
                f"{self._elapsed()} {'skipped':<{LABEL}} {len(self.skipped)} step(s), after a "
                f"failed step or blocking check: {_names(self.skipped)}"
            )
        if self._pending:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()
            self._pending = False

    # -- events ---------------------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step_key = meta.get("step_key")
        if event is None:
            self.message(record, step_key)
            return
        kind = event.event_type_value
        key = event.step_key or step_key
        if kind == "STEP_START" and key:
            self.step_started(key)
        elif kind == "ASSET_MATERIALIZATION" and key in self.steps:
            step = self.steps[key]
            materialization = event.event_specific_data.materialization
            step.materialized.append(materialization.asset_key)
            step.metadata.update({k: v.value for k, v in materialization.metadata.items()})
            self.step_progress(key)
        elif kind == "ASSET_CHECK_EVALUATION" and key in self.steps:
            step = self.steps[key]
            evaluation = event.event_specific_data
            if evaluation.passed:
                step.checks_passed += 1
            else:
                name = evaluation.check_name
                severity = getattr(evaluation.severity, "value", str(evaluation.severity))
                (step.checks_warned if severity == "WARN" else step.checks_failed).append(name)
            self.step_progress(key)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and key:
            self.step_finished(key, ok=kind == "STEP_SUCCESS")
        elif kind == "STEP_SKIPPED" and key:
            self.skipped.append(key)


def planned_per_step(assets_defs) -> dict[str, int]:
    """Materialisations + check evaluations each step (op) of a whole-job run reports: the
    total of the dbt build's counter (Dagster's own "planned" events reach the event log,
    not the loggers)."""
    planned: dict[str, int] = {}
    for a in assets_defs:
        if isinstance(a, dg.AssetsDefinition) and a.is_executable:
            name = a.node_def.name
            planned[name] = planned.get(name, 0) + len(a.keys) + len(a.check_keys)
    return planned


def _names(names: list[str], shown: int = 3) -> str:
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _ingest_text(metadata: dict[str, object], ok: bool) -> str:
    if not metadata:
        return "FAILED" if not ok else "done"
    loaded = int(metadata.get("rows_loaded", 0) or 0)
    quarantined = int(metadata.get("rows_quarantined", 0) or 0)
    files = int(metadata.get("files_loaded", 0) or 0)
    skipped = int(metadata.get("files_skipped", 0) or 0) + int(
        metadata.get("redrops_skipped", 0) or 0
    )
    if not (loaded or quarantined or files) and ok:
        before = f" ({skipped} file(s) loaded before)" if skipped else ""
        return f"{'-':>9} nothing new{before}"
    text = f"{loaded:>9,} rows from {files} new file(s)"
    if quarantined:
        text += f", {quarantined:,} quarantined"
    if skipped:
        text += f", {skipped} already loaded"
    if not ok:
        text += " — FAILED"
    return text


@contextmanager
def showing(
    out: TextIO,
    err: TextIO | None = None,
    tty: bool | None = None,
    planned: dict[str, int] | None = None,
) -> Iterator[StageProgress]:
    """Stage lines of the run executed inside this block go to `out`, its warnings and
    errors to `err`; `planned` gives the totals of the steps' counters."""
    global _active
    progress = StageProgress(out, err, tty, planned)
    with _lock:
        _active = progress
    try:
        yield progress
    finally:
        with _lock:
            _active = None
        progress.finish()


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        progress = _active
        if progress is not None:
            try:
                progress.handle(record)
            except Exception:  # a display problem must never fail the run
                self.handleError(record)


@dg.logger(
    config_schema={},
    description="Stage lines for `segments run` (pipelines/lib/progress.py); prints nothing "
    "outside the CLI.",
)
def stage_progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("segments.progress", level=logging.DEBUG)
    logger.addHandler(_ProgressHandler())
    return logger


@dg.logger(
    config_schema={"path": dg.Field(str, description="file the run's events are appended to")},
    description="Every event of the run (DEBUG and up) as plain text in a file.",
)
def event_file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("segments.event_file", level=logging.DEBUG)
    handler = logging.FileHandler(init_context.logger_config["path"], encoding="utf-8")
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logger.addHandler(handler)
    return logger


LOGGERS = {
    # Dagster's console lines without stack traces for expected failures
    # (pipelines/lib/console.py), under the usual key: runs that configure no logger (schedule,
    # sensor, UI) use it, and `segments run --verbose` configures it at DEBUG with traces.
    "console": console_logger,
    "event_file": event_file_logger,
    "stage_progress": stage_progress_logger,
}
