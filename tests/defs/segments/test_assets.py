"""pipelines/defs/segments/assets.py: the Dagster asset and validation at code-location load."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.segments import assets as segment_assets
from pipelines.defs.segments.dynamic import SegmentDefinitionError
from pipelines.resources import default_resources
from pipelines.settings import PROJECT_ROOT

from .conftest import EXPECTED_ON_NOV, NOV, members


def test_asset_key_group_and_upstream() -> None:
    (asset,) = segment_assets.assets

    assert asset.key == dg.AssetKey(["marts", "dynamic_segment_members"])
    assert asset.group_names_by_key[asset.key] == "marts"
    assert set(asset.asset_deps[asset.key]) == {
        dg.AssetKey(["marts", "customer_facts"]),
        dg.AssetKey(["marts", "customer_segments"]),
        dg.AssetKey(["marts", "customer_predictions"]),
    }


def test_materialising_writes_members_and_reports_them(
    build_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTS_WAREHOUSE_DIR", str(build_db.parent))

    result = dg.materialize(segment_assets.assets, resources=default_resources())

    assert result.success
    (event,) = result.get_asset_materialization_events()
    materialization = event.materialization
    table = materialization.metadata["members"].value
    assert "| vips_at_risk | 1 | 2026-11-22 | 1 |" in table
    assert "| polish_repeat_buyers | 1 | 2026-11-22 | 2 |" in table
    assert materialization.metadata["members_young_bargain_hunters"].value == 1
    with duckdb.connect(str(build_db), read_only=True) as con:
        for name, expected in EXPECTED_ON_NOV.items():
            assert members(con, name, NOV) == expected


def test_a_bad_definition_stops_the_code_location_from_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PROJECT_ROOT / "tests/fixtures/segments_bad/sql_in_value.yml", tmp_path)
    monkeypatch.setenv("SEGMENTS_DEFINITIONS_DIR", str(tmp_path))
    try:
        with pytest.raises(
            SegmentDefinitionError, match=r"sql_in_value.yml, line 7, conditions.all\[1\]"
        ):
            importlib.reload(segment_assets)
    finally:
        monkeypatch.delenv("SEGMENTS_DEFINITIONS_DIR")
        importlib.reload(segment_assets)
