"""pipelines/defs/segments/catalogue.py: the column catalogue read from the dbt YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.defs.segments.catalogue import (
    Catalogue,
    CatalogueError,
    Kind,
    kind_of,
    load_catalogue,
)


def test_the_real_catalogue_types_fact_and_label_columns(catalogue: Catalogue) -> None:
    kinds = {name: (column.model, column.kind) for name, column in catalogue.columns.items()}

    assert kinds["orders_count"] == ("customer_facts", Kind.INTEGER)
    assert kinds["net_revenue"] == ("customer_facts", Kind.NUMBER)
    assert kinds["country_code"] == ("customer_facts", Kind.TEXT)
    assert kinds["last_order_date"] == ("customer_facts", Kind.DATE)
    assert kinds["has_marketing_consent"] == ("customer_facts", Kind.BOOLEAN)
    assert kinds["rfm_segment"] == ("customer_segments", Kind.TEXT)
    assert "customer_key" not in kinds and "as_of_date" not in kinds
    assert catalogue.missing_models == ()


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [
        ("varchar", Kind.TEXT),
        ("BIGINT", Kind.INTEGER),
        ("decimal(18, 2)", Kind.NUMBER),
        ("double", Kind.NUMBER),
        ("date", Kind.DATE),
        ("timestamp with time zone", Kind.TIMESTAMP),
        ("boolean", Kind.BOOLEAN),
        ("varchar[]", None),
        ("struct(a integer)", None),
        ("json", None),
    ],
)
def test_declared_types_map_to_kinds(data_type: str, kind: Kind | None) -> None:
    assert kind_of(data_type) is kind


def test_columns_added_to_the_yaml_are_picked_up_without_code_changes(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "_core.yml").write_text(
        "version: 2\n"
        "models:\n"
        "  - name: customer_facts\n"
        "    columns:\n"
        "      - {name: customer_key, data_type: varchar}\n"
        "      - {name: preferred_channel, data_type: varchar}\n"
        "      - {name: loyalty_points, data_type: integer}\n"
        "  - name: fct_transactions\n"
        "    columns:\n"
        "      - {name: amount, data_type: decimal(18,2)}\n"
    )
    (tmp_path / "_segments.yaml").write_text(
        "version: 2\n"
        "models:\n"
        "  - name: customer_segments\n"
        "    columns:\n"
        "      - name: lifecycle_status\n"
        "        data_type: varchar\n"
        "        data_tests:\n"
        "          - not_null\n"
        "          - accepted_values:\n"
        "              arguments: {values: [prospect, new, active]}\n"
        "      - {name: preferred_channel, data_type: varchar}\n"
        "      - {name: engagement_score}\n"
        "      - {name: tags, data_type: 'varchar[]'}\n"
    )

    catalogue = load_catalogue(tmp_path)

    assert sorted(catalogue.columns) == ["lifecycle_status", "loyalty_points", "preferred_channel"]
    assert catalogue.columns["lifecycle_status"].accepted_values == ("prospect", "new", "active")
    # declared by both: facts win, since they hold every as-of date
    assert catalogue.columns["preferred_channel"].model == "customer_facts"
    assert "without a data_type" in catalogue.unusable["engagement_score"]
    assert "'varchar[]', which a condition cannot compare" in catalogue.unusable["tags"]


def test_a_model_declared_twice_is_an_error(tmp_path: Path) -> None:
    for name in ("a.yml", "b.yml"):
        (tmp_path / name).write_text("models:\n  - name: customer_facts\n    columns: []\n")

    with pytest.raises(CatalogueError, match="customer_facts is declared more than once"):
        load_catalogue(tmp_path)


def test_missing_models_are_reported(tmp_path: Path) -> None:
    assert load_catalogue(tmp_path).missing_models == (
        "customer_facts",
        "customer_segments",
        "customer_predictions",
    )
