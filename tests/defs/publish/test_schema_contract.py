"""The published schema is a contract: a real publish must match docs/published_schema.md.

When a test here fails after a dbt change, the published schema moved: if that is intended,
regenerate the doc (`python -m pipelines.defs.publish.schema`) and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.publish import (
    PII_COLUMNS,
    PUBLISHED_TABLES,
    STORAGE_VERSION,
    PublishedTable,
    PublishError,
    publish,
    select_columns,
)
from pipelines.defs.publish.schema import (
    DOC_PATH,
    REGENERATE_HINT,
    DocColumn,
    DocTable,
    dbt_column_descriptions,
    load_schema_doc,
    parse_schema_doc,
    published_columns,
    published_table_comments,
    render_tables,
    replace_generated_block,
)

BY_NAME = {t.name: t for t in PUBLISHED_TABLES}


@pytest.fixture(scope="module")
def published(dbt_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt build published with default settings (PII off): what BI sees today."""
    return publish(dbt_build, tmp_path_factory.mktemp("pub") / "segments.duckdb").path


def _columns(path: Path) -> dict[str, list[DocColumn]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return published_columns(con)


def test_published_tables_match_the_documented_contract(published: Path):
    documented = load_schema_doc()
    actual = _columns(published)
    for name, columns in actual.items():
        assert name in documented, f"published table {name} is not in {DOC_PATH}: {REGENERATE_HINT}"
        assert [(c.name, c.type) for c in columns] == documented[name].signature(), (
            f"published table {name} differs from {DOC_PATH} (names, order or types): "
            f"{REGENERATE_HINT}"
        )


def test_every_required_table_is_published_and_every_documented_one_is_known(published: Path):
    documented = load_schema_doc()
    actual = _columns(published)
    for table in PUBLISHED_TABLES:
        if table.required:
            assert table.name in actual and table.name in documented, table.name
    for name in documented:
        assert name in BY_NAME, (
            f"{DOC_PATH} documents {name}, which PUBLISHED_TABLES does not publish"
        )
        if name not in actual:
            assert not BY_NAME[name].required, (
                f"required table {name} is documented but not published"
            )


def test_every_published_table_and_column_carries_a_description(published: Path):
    with duckdb.connect(str(published), read_only=True) as con:
        columns = published_columns(con)
        comments = published_table_comments(con)
    for name, cols in columns.items():
        assert comments.get(name), f"table {name} has no COMMENT"
        undescribed = [c.name for c in cols if not c.meaning]
        assert not undescribed, (
            f"{name} columns without a description: {undescribed}; describe them in the dbt "
            f"model's YAML (or in {DOC_PATH}), then regenerate the doc"
        )


def test_published_file_opens_with_duckdb_1_0_and_later(published: Path):
    # BI drivers embed their own (often older) DuckDB; the v2 format would lock them out.
    with duckdb.connect(str(published), read_only=True) as con:
        tags = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()[0]
    assert tags["storage_version"].startswith(STORAGE_VERSION)


def test_pii_is_left_out_by_default(published: Path):
    actual = _columns(published)
    assert "customer_contacts" not in actual
    leaked = [(t, c.name) for t, cols in actual.items() for c in cols if c.name in PII_COLUMNS]
    assert leaked == []
    # No email address in any text column of any published table, whatever its name.
    with duckdb.connect(str(published), read_only=True) as con:
        for table, cols in actual.items():
            for c in cols:
                if c.type == "VARCHAR":
                    hits = con.execute(
                        f'select count(*) from "{table}" where "{c.name}" similar to ?',
                        [r"[^@\s]+@[^@\s]+\.[a-z]+"],
                    ).fetchone()[0]
                    assert hits == 0, f"{table}.{c.name} holds {hits} email-like values"


def test_pii_setting_publishes_the_documented_contacts_table(dbt_build: Path, tmp_path: Path):
    result = publish(dbt_build, tmp_path / "segments.duckdb", include_pii=True)
    actual = _columns(result.path)
    assert [(c.name, c.type) for c in actual["customer_contacts"]] == (
        load_schema_doc()["customer_contacts"].signature()
    )
    with duckdb.connect(str(result.path), read_only=True) as con:
        with_email = con.execute("select count(email) from customer_contacts").fetchone()[0]
        joined = con.execute(
            "select count(*) from customer_contacts join customer_segments using (customer_key)"
        ).fetchone()[0]
    assert with_email > 0 and joined == result.row_counts["customer_contacts"]


def test_column_descriptions_come_from_dbt_yaml_before_the_doc(dbt_build: Path, tmp_path: Path):
    manifest = {
        "nodes": {
            "model.segments.customer_segments": {
                "resource_type": "model",
                "schema": "marts",
                "name": "customer_segments",
                "columns": {
                    "frequency": {"description": "Orders, from dbt."},
                    "monetary": {"description": ""},
                },
            }
        }
    }
    result = publish(
        dbt_build, tmp_path / "s.duckdb", column_descriptions=dbt_column_descriptions(manifest)
    )
    described = {c.name: c.meaning for c in _columns(result.path)["customer_segments"]}
    assert described["frequency"] == "Orders, from dbt."
    doc = {c.name: c.meaning for c in load_schema_doc()["customer_segments"].columns}
    assert described["monetary"] == doc["monetary"]  # empty in dbt: the doc's meaning


def test_a_listed_column_missing_from_the_source_is_a_clear_error():
    table = PublishedTable(
        "contacts", "marts.dim_customers", "x", columns=("customer_key", "emial")
    )
    with pytest.raises(PublishError, match=r"marts.dim_customers has no column\(s\) emial"):
        select_columns(table, ["customer_key", "email"], include_pii=True)


def test_pii_columns_are_dropped_from_any_table_unless_asked():
    table = PublishedTable("t", "marts.t", "x")
    available = ["customer_key", "email", "email_opens_last_90_days", "phone"]
    assert select_columns(table, available, include_pii=False) == [
        "customer_key",
        "email_opens_last_90_days",
    ]
    assert select_columns(table, available, include_pii=True) == available


def test_doc_round_trips_through_render_and_parse():
    tables = [
        DocTable("t", "One row per thing.", (DocColumn("a", "DECIMAL(18,2)", "money | more"),))
    ]
    text = replace_generated_block(
        "intro\n<!-- BEGIN published tables -->\nold\n<!-- END published tables -->\nrest\n",
        render_tables(tables, {"t": "Source: `marts.t`."}),
    )
    assert text.startswith("intro\n") and text.endswith("<!-- END published tables -->\nrest\n")
    assert parse_schema_doc(text) == {"t": tables[0]}


def test_doc_without_markers_names_the_fix():
    with pytest.raises(ValueError, match="restore the markers"):
        parse_schema_doc("# no markers here", Path("docs/x.md"))
