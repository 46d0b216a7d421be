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


# The modules whose fixtures run the whole pipeline several times (about 40-110 s each on 2
# cores), longest first. xdist's `--dist loadfile` hands out modules in collection order, and
# these sort last alphabetically (top-level tests/ after dbt/, defs/, lib/): one worker then
# idled while the other finished a long module at the end. Scheduled first, the short modules
# fill in behind them (longest-first scheduling).
LONG_MODULES = (
    "test_faults.py",
    "test_dbt_incremental_history.py",
    "test_gate_failures.py",
    "test_run_coordination.py",
    "test_bench.py",
    "test_end_to_end.py",
    "test_first_hour.py",
    "test_cli.py",
    "test_cdnow.py",
    "test_pii_in_free_text.py",
    "test_dbt_history.py",
    "test_csv_only_shop.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long modules first, in LONG_MODULES order; the rest after them in collection order
    (a stable sort: the tests of a module keep their order)."""
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_MODULES)))
