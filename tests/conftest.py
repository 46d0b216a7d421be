"""Shared fixtures: every test gets its own landing zone, warehouse and Dagster instance."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def segments_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the whole product at a temp dir (never at data/)."""
    landing = tmp_path / "landing"
    warehouse = tmp_path / "warehouse"
    landing.mkdir()
    warehouse.mkdir()
    monkeypatch.setenv("SEGMENTS_LANDING_DIR", str(landing))
    monkeypatch.setenv("SEGMENTS_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("SEGMENTS_REPORTING_CURRENCY", "USD")
    monkeypatch.setenv("DAGSTER_HOME", str(warehouse / "dagster_home"))
    monkeypatch.delenv("SEGMENTS_AS_OF_DATE", raising=False)
    (warehouse / "dagster_home").mkdir()
    return {"landing": landing, "warehouse": warehouse, "root": tmp_path}


def pytest_configure(config: pytest.Config) -> None:
    """Build dbt's manifest once, before any worker imports the code location (the dbt
    assets are defined from it; nothing parses at import time)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller built it
        return
    from pipelines.defs.warehouse.project import ensure_manifest

    ensure_manifest()
