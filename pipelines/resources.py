"""Dagster resources: the settings and the build database, handed to assets and checks.

Assets never read the environment or open DuckDB files on their own: they ask these
resources, so a test (or another deployment) swaps them instead of editing `os.environ`.
Both read the environment when a run starts, not when the code location loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import settings as _settings
from pipelines.lib import duck


class SegmentsSettings(dg.ConfigurableResource):
    """The pipeline's settings (`pipelines/settings.py`, env vars and `.env`). Any field set
    here wins over the environment; unset fields come from it at run time."""

    landing_dir: str | None = None
    warehouse_dir: str | None = None
    reporting_currency: str | None = None

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


def default_resources() -> dict[str, dg.ConfigurableResource]:
    settings = SegmentsSettings()
    return {"settings": settings, "build_db": BuildDatabase(settings=settings)}
