"""The dbt project as Dagster sees it. Kept in its own module: `@dbt_assets` needs the
manifest when the code location loads. Nothing here runs at import: `make manifest` (a
prerequisite of every make target) and the test session build it with `ensure_manifest()`;
a missing manifest stops the load with a message that says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from pipelines import settings as _settings

DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")

dbt_project = DbtProject(
    project_dir=_settings.DBT_PROJECT_DIR,
    profiles_dir=_settings.DBT_PROJECT_DIR,
)


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when target/manifest.json is missing (fresh clone), ~6 s once."""
    manifest = dbt_project.manifest_path
    if manifest.exists() and not force:
        return manifest
    env = {**os.environ, **_settings.load().dbt_env()}
    result = subprocess.run(
        [
            str(DBT_EXECUTABLE),
            "parse",
            "--quiet",
            "--project-dir",
            str(dbt_project.project_dir),
            "--profiles-dir",
            str(dbt_project.project_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not manifest.exists():
        raise RuntimeError(
            "dbt parse failed, so the dbt assets cannot be loaded. Fix the dbt project and run "
            f"`make manifest`.\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return manifest


def manifest_path() -> Path:
    """target/manifest.json, or a clear error when it has not been built (no work at import)."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        raise RuntimeError(
            f"{manifest} is missing: the dbt assets are defined from dbt's manifest. "
            "Run `make manifest` (or any make target) once, then load the code location again."
        )
    return manifest


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=os.fspath(dbt_project.project_dir),
        dbt_executable=os.fspath(DBT_EXECUTABLE),
    )
