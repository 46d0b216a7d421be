"""Fixtures for the publish tests: one real dbt build per session, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.defs.publish.warehouse import add_contract_tables, build_with_dbt


@pytest.fixture(scope="session")
def dbt_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build database exactly as the dbt project makes it today. Treat as read-only."""
    return build_with_dbt(tmp_path_factory.mktemp("dbt_build"))


@pytest.fixture(scope="session")
def full_build(dbt_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt build plus every table its contracts promise (history, profiles, dynamic
    segments, extra families, quarantine, load manifest). Treat as read-only."""
    copy = tmp_path_factory.mktemp("full_build") / "build.duckdb"
    shutil.copy(dbt_build, copy)
    return add_contract_tables(copy)


@pytest.fixture(scope="session")
def published_full(full_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """segments.duckdb (+ audited.duckdb beside it) published from the full build: what
    exports and the report read. Treat as read-only."""
    from pipelines.defs.publish.audited import publish_with_audited

    target = tmp_path_factory.mktemp("published") / "segments.duckdb"
    publish_with_audited(full_build, target)
    return target


@pytest.fixture()
def warehouse(full_build: Path, segments_env: dict[str, Path]) -> Path:
    """A warehouse dir (settings point at it) holding a copy of the full build database."""
    shutil.copy(full_build, segments_env["warehouse"] / "build.duckdb")
    return segments_env["warehouse"]


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; installs Debian's `chromium` package when missing
    and we are root with apt-get; skips (saying why) only where it cannot be installed."""
    found = _find_chromium()
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(
            "Chromium is not installed and cannot be: needs root and apt-get "
            "(install `chromium` with the system package manager to run this test)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "chromium"],
        ["sh", "-c", "apt-get update && apt-get install -y chromium"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode == 0 and (found := _find_chromium()):
            return found
    pytest.skip(
        f"`apt-get install -y chromium` failed, so the report cannot be rendered here:\n"
        f"{result.stderr[-1500:]}"
    )
