"""`python -m pipelines.defs.publish.schema [--build-db PATH]`: regenerate the published-schema
contract (docs/published_schema.md) from a real publish of a build database.

The contract itself (parsing and rendering the doc) lives in `contract_doc.py`, which the
publish code imports; this module imports the publish code. Splitting them removed the
import cycle publish ↔ schema. The names below are re-exported for existing callers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

from pipelines.defs.publish.contract_doc import (
    BEGIN_MARKER,
    DOC_PATH,
    END_MARKER,
    NOTE_PREFIX,
    REGENERATE_HINT,
    DocColumn,
    DocTable,
    dbt_column_descriptions,
    load_dbt_column_descriptions,
    load_schema_doc,
    parse_schema_doc,
    published_columns,
    published_table_comments,
    render_tables,
    replace_generated_block,
)
from pipelines.defs.publish.publish import PREDICTION_TABLES, PUBLISHED_TABLES, publish

__all__ = [
    "BEGIN_MARKER",
    "DOC_PATH",
    "END_MARKER",
    "NOTE_PREFIX",
    "REGENERATE_HINT",
    "DocColumn",
    "DocTable",
    "dbt_column_descriptions",
    "load_dbt_column_descriptions",
    "load_schema_doc",
    "parse_schema_doc",
    "published_columns",
    "published_table_comments",
    "render_tables",
    "replace_generated_block",
    "main",
    "regenerate",
]


def regenerate(build_db: Path, doc_path: Path = DOC_PATH) -> str:
    """Publish `build_db` (PII tables included) to a temp file and rewrite the doc's block."""
    from pipelines.defs.warehouse.project import dbt_project

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "segments.duckdb"
        publish(
            build_db,
            target,
            include_pii=True,
            column_descriptions=load_dbt_column_descriptions(dbt_project.manifest_path),
        )
        with duckdb.connect(os.fspath(target), read_only=True) as con:
            columns = published_columns(con)
            comments = published_table_comments(con)
    order = [t.name for t in PUBLISHED_TABLES if t.name in columns]
    notes = {
        t.name: f"{NOTE_PREFIX} `{t.source}`."
        + (
            ""
            if t.required or t.pii
            else " *Optional*: published once the CLV model step has run (not a dbt model; "
            "columns documented in dbt_project/models/marts/predictions/)."
            if t.name in PREDICTION_TABLES
            else " *Optional*: published once the dbt model exists."
        )
        + (" **Contains PII: published only when `SEGMENTS_PUBLISH_PII=true`.**" if t.pii else "")
        for t in PUBLISHED_TABLES
    }
    tables = [DocTable(name, comments.get(name, ""), tuple(columns[name])) for name in order]
    text = replace_generated_block(
        doc_path.read_text(encoding="utf-8"), render_tables(tables, notes)
    )
    doc_path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    from pipelines import settings as _settings

    parser = argparse.ArgumentParser(description=regenerate.__doc__)
    parser.add_argument(
        "--build-db", type=Path, default=None, help="default: the settings' build db"
    )
    parser.add_argument("--doc", type=Path, default=DOC_PATH)
    args = parser.parse_args(argv)
    build_db = args.build_db or _settings.load().build_db
    if not build_db.exists():
        print(f"{build_db} does not exist: run `segments run` first", file=sys.stderr)
        return 2
    regenerate(build_db, args.doc)
    print(f"rewrote the published tables of {args.doc}; review with `git diff {args.doc}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
