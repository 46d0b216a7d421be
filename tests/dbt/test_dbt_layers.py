"""The layering rule of the dbt project, read from its manifest (run `dbt parse` first):
staging reads sources only, and no intermediate model reads a mart."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT_DIR

MANIFEST = PROJECT_DIR / "target" / "manifest.json"


@pytest.fixture(scope="module")
def models() -> dict[str, dict]:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `dbt parse` in dbt_project first")
    nodes = json.loads(MANIFEST.read_text())["nodes"]
    return {uid: node for uid, node in nodes.items() if node["resource_type"] == "model"}


def layer(node: dict) -> str:
    return node["original_file_path"].split("/")[1]  # models/<layer>/...


def test_intermediate_models_never_read_marts(models):
    offenders = [
        (node["name"], models[parent]["name"])
        for node in models.values()
        if layer(node) == "intermediate"
        for parent in node["depends_on"]["nodes"]
        if parent in models and layer(models[parent]) == "marts"
    ]
    assert offenders == []
    assert any(layer(node) == "intermediate" for node in models.values())


def test_staging_models_read_no_models(models):
    offenders = [
        (node["name"], models[parent]["name"])
        for node in models.values()
        if layer(node) == "staging"
        for parent in node["depends_on"]["nodes"]
        if parent in models
    ]
    assert offenders == []
