"""Dagster resources: the settings and the build database, handed to assets and checks.

Assets never read the environment or open DuckDB files on their own: they ask these
resources, so a test (or another deployment) swaps them instead of editing `os.environ`.
Both read the environment when a run starts, not when the code location loads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import settings as _settings
from pipelines.lib import duck, runlock

# Runs started by Dagster (schedule, sensor, UI) wait this long for another run to release the
# warehouse; `segments run` does not wait unless given --wait.
DEFAULT_RUN_WAIT_SECONDS = 3600
RUN_WAIT_TAG = "segments/run_wait_seconds"
_held: dict[str, str] = {}  # warehouse dir -> run id holding it in this process


class SegmentsSettings(dg.ConfigurableResource):
    """The pipeline's settings (`pipelines/settings.py`, env vars and `.env`). Any field set
    here wins over the environment; unset fields come from it at run time.

    Every asset and check of a run uses this resource, so it is also the run's hold on the
    warehouse (`pipelines/lib/runlock.py`): with the in-process executor Dagster sets it up
    once before the first step and tears it down after the last, and in between no other run
    can write the build database. A second run waits up to SEGMENTS_RUN_WAIT_SECONDS (default
    3600; the run tag `segments/run_wait_seconds` wins, `segments run` sets 0 unless --wait), then
    fails with one line naming the run that holds the warehouse. Setting it up also cleans up
    after a run that was killed holding it: ends its dbt child, removes half-written publish
    files, and marks that run failed in the Dagster instance.
    """

    landing_dir: str | None = None
    warehouse_dir: str | None = None
    reporting_currency: str | None = None

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[SegmentsSettings]:
        warehouse = self.get().warehouse_dir
        key, run_id = os.fspath(warehouse), context.run_id or "(no run)"
        if _held.get(key) == run_id:  # already held by this run in this process (nested use)
            yield self
            return
        run = context.dagster_run
        tag = run.tags.get(RUN_WAIT_TAG) if run is not None else None
        wait = float(tag) if tag else _settings.run_wait_seconds(DEFAULT_RUN_WAIT_SECONDS)
        log = context.log
        try:
            with runlock.hold(warehouse, run_id, wait_seconds=wait, on_wait=log.info) as dead:
                _held[key] = run_id
                swept = runlock.sweep(warehouse, dead)
                for line in swept.lines():
                    log.warning(line)
                if dead is not None and context.instance is not None:
                    mark_run_failed(context.instance, dead, by=run_id)
                try:
                    yield self
                finally:
                    _held.pop(key, None)
                    _copy_quarantine(self.get(), log)
        except runlock.WarehouseBusyError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from None

    def get(self) -> _settings.Settings:
        cfg = _settings.load()
        overrides = {
            name: (Path(value).resolve() if name.endswith("_dir") else value.upper())
            for name, value in (
                ("landing_dir", self.landing_dir),
                ("warehouse_dir", self.warehouse_dir),
                ("reporting_currency", self.reporting_currency),
            )
            if value
        }
        return dataclasses.replace(cfg, **overrides) if overrides else cfg


class BuildDatabase(dg.ConfigurableResource):
    """The pipeline's own DuckDB file (raw, quarantine, meta and every dbt model). One
    connection per step, closed when the step is done: DuckDB allows one writer per file,
    and the next step (or dbt) must be able to open it."""

    settings: SegmentsSettings

    @property
    def path(self) -> Path:
        return self.settings.get().build_db

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with duck.connect(self.path, read_only=read_only) as con:
            yield con


def _copy_quarantine(cfg: _settings.Settings, log) -> None:
    """End of a run (still holding the warehouse): refresh `quarantine.duckdb`, which
    `segments quarantine` reads while a later run writes the build database."""
    from pipelines.quarantine import copy_path, write_copy

    if not cfg.build_db.exists():
        return
    try:
        write_copy(cfg.build_db, copy_path(cfg))
    except (duckdb.Error, OSError) as exc:  # never fail a run over its convenience copy
        log.warning(f"could not refresh {copy_path(cfg)}: {exc}")


def mark_run_failed(instance: dg.DagsterInstance, dead: runlock.Holder, by: str) -> bool:
    """Mark a run that died holding the warehouse (its process is gone) as failed, if the
    instance still shows it as unfinished. True when it was marked."""
    run = instance.get_run_by_id(dead.run_id)
    if run is None or run.is_finished:
        return False
    instance.report_run_failed(
        run,
        f"the run's process (pid {dead.pid} on {dead.host}) ended without finishing, e.g. "
        f"killed; found by {by}, which cleaned up after it",
    )
    return True


def default_resources() -> dict[str, dg.ConfigurableResource]:
    settings = SegmentsSettings()
    return {"settings": settings, "build_db": BuildDatabase(settings=settings)}
