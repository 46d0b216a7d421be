"""The publish assets in Dagster: the published file, then Parquet, exports and report as
separate assets that read the published files, with metadata for the UI."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.publish.assets import (
    EXPORTS_KEY,
    PARQUET_KEY,
    PUBLISHED_KEY,
    REPORT_KEY,
    assets,
)
from pipelines.defs.publish.audited import publish_with_audited
from pipelines.resources import default_resources


def _materialize(instance: dg.DagsterInstance, **kw) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, instance=instance, resources=default_resources(), raise_on_error=False, **kw
    )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def test_publish_assets_write_file_parquet_exports_report_and_metadata(warehouse: Path):
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        result = _materialize(instance)
    assert result.success
    published = _metadata(result, PUBLISHED_KEY)
    assert published["rows_customer_segments"].value > 300
    assert published["mode"].value == "full"  # nothing published before
    sizes = published["segment_sizes"].value
    assert sizes.startswith("| segment | customers |") and "| Champions |" in sizes
    assert published["pii_published"].value is False
    assert _metadata(result, REPORT_KEY)["report"].value == str(warehouse / "report.html")
    assert _metadata(result, EXPORTS_KEY)["export_files"].value > 11
    assert _metadata(result, PARQUET_KEY)["tables_written"].value >= 7
    for path in (
        "segments.duckdb",
        "audited.duckdb",
        "report.html",
        "parquet/current/customer_segments.parquet",
        "exports/current/index.csv",
        "exports/current/rfm/champions.csv",
    ):
        assert (warehouse / path).exists(), path
    assert (warehouse / "audited.duckdb").stat().st_mode & 0o077 == 0  # PII: owner only


def test_a_second_publish_rewrites_only_what_changed(warehouse: Path):
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        assert _materialize(instance).success
        result = _materialize(instance)
    published = _metadata(result, PUBLISHED_KEY)
    assert published["mode"].value == "incremental"
    assert "| customer_segments |" in published["tables"].value
    assert "unchanged" in published["tables"].value
    parquet = _metadata(result, PARQUET_KEY)
    assert parquet["tables_written"].value == 0 and parquet["tables_reused"].value >= 7


def test_a_failing_report_fails_alone_and_the_publish_stands(warehouse: Path):
    (warehouse / "report.html").mkdir()  # the report cannot replace a folder
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        result = _materialize(instance)
    assert not result.success and (warehouse / "segments.duckdb").exists()
    done = {e.asset_key for e in result.get_asset_materialization_events()}
    assert done == {PUBLISHED_KEY, PARQUET_KEY, EXPORTS_KEY}
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "published__report"


def test_downstream_assets_read_the_published_file_not_the_build(warehouse: Path):
    publish_with_audited(warehouse / "build.duckdb", warehouse / "segments.duckdb")
    (warehouse / "build.duckdb").unlink()  # nothing downstream of the gate needs it
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        result = _materialize(instance, selection=[PARQUET_KEY, EXPORTS_KEY, REPORT_KEY])
    assert result.success
    assert (warehouse / "exports/current/rfm/champions.csv").exists()


def test_cli_report_rebuilds_it_on_demand(warehouse: Path, capsys):
    from pipelines.cli import main

    assert main(["report"]) == 2  # nothing published yet
    assert "segments run" in capsys.readouterr().err
    publish_with_audited(warehouse / "build.duckdb", warehouse / "segments.duckdb")
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert (warehouse / "report.html").exists() and "charts)" in out
    assert "no Dagster instance" in out or "no run of the refresh job" in out


def test_exports_asset_names_a_source_without_consent_data_and_applies_its_rule(
    warehouse: Path, monkeypatch
):
    import csv

    import duckdb

    # The till's customers lose their CRM answer: the pos source has no consent data left.
    with duckdb.connect(str(warehouse / "build.duckdb")) as con:
        con.execute(
            "update marts.dim_customers set has_marketing_consent = null where customer_key in "
            "(select customer_key from marts.customer_source_ids where source = 'generic/pos')"
        )
    with dg.instance_for_test(temp_dir=str(warehouse / "dagster_home")) as instance:
        default = _materialize(instance)
        note = _metadata(default, EXPORTS_KEY)["sources_without_consent_data"].value
        assert "generic/pos: no consent data" in note
        assert "SEGMENTS_EXPORT_CONSENT=generic/pos=granted" in note
        rows_default = _metadata(default, EXPORTS_KEY)["export_rows"].value

        monkeypatch.setenv("SEGMENTS_EXPORT_CONSENT", "generic/pos=granted")
        granted = _materialize(instance, selection=[PUBLISHED_KEY, EXPORTS_KEY])
    assert "rule 'granted'" in _metadata(granted, EXPORTS_KEY)["sources_without_consent_data"].value
    assert _metadata(granted, EXPORTS_KEY)["export_rows"].value > rows_default
    with open(warehouse / "exports" / "current" / "consent.csv", newline="") as fh:
        rules = {r["source"]: r["rule"] for r in csv.DictReader(fh)}
    assert rules["generic/pos"] == "granted" and rules["shopify"] == "crm"
