"""The publish asset in Dagster: everything downstream users read, with metadata for the UI."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.publish.assets import FOLLOW_UP_CHECK, published_segments
from pipelines.defs.publish.publish import publish

KEY = dg.AssetKey(["published", "segments_db"])


def _materialize(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize([published_segments], instance=instance, raise_on_error=False)


def _check(result: dg.ExecuteInProcessResult):
    (evaluation,) = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return evaluation


def test_publish_asset_writes_file_parquet_exports_report_and_metadata(warehouse: Path):
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        result = _materialize(instance)
    assert result.success
    metadata = result.asset_materializations_for_node("published__segments_db")[0].metadata
    assert metadata["rows_customer_segments"].value > 300
    sizes = metadata["segment_sizes"].value
    assert sizes.startswith("| segment | customers |") and "| Champions |" in sizes
    assert metadata["report"].value == str(warehouse / "report.html")
    assert metadata["export_files"].value > 11 and metadata["pii_published"].value is False
    for path in (
        "segments.duckdb",
        "report.html",
        "parquet/current/customer_segments.parquet",
        "exports/current/index.csv",
        "exports/current/rfm/champions.csv",
    ):
        assert (warehouse / path).exists(), path
    check = _check(result)
    assert check.passed and check.asset_key == KEY and check.check_name == FOLLOW_UP_CHECK


def test_a_failing_report_warns_but_the_publish_stands(warehouse: Path):
    (warehouse / "report.html").mkdir()  # the report cannot replace a folder
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        result = _materialize(instance)
    assert result.success and (warehouse / "segments.duckdb").exists()
    assert result.asset_materializations_for_node("published__segments_db")
    check = _check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "report" in check.description


def test_cli_report_rebuilds_it_on_demand(warehouse: Path, capsys):
    from pipelines.cli import main

    assert main(["report"]) == 2  # nothing published yet
    assert "segments run" in capsys.readouterr().err
    publish(warehouse / "build.duckdb", warehouse / "segments.duckdb")
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert (warehouse / "report.html").exists() and "charts)" in out
    assert "no Dagster instance" in out or "no run of the refresh job" in out
