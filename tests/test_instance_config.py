"""The Dagster instance a new DAGSTER_HOME gets: one run at a time, run monitoring on."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipelines import settings


def test_a_new_dagster_home_queues_runs_one_at_a_time(
    segments_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = segments_env["root"] / "new_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings.ensure_dagster_home(settings.load())
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_monitoring_enabled


def test_an_existing_dagster_yaml_is_kept(
    segments_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = segments_env["root"] / "own_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings.ensure_dagster_home(settings.load())
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
