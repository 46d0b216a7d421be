"""The published schema as a contract: docs/published_schema.md, parsed and rendered.

(The command that regenerates the doc from a real publish is `schema.py`; this module has no
dependency on the publish code, so `publish.py` can import it without an import cycle.)

The doc is the contract BI dashboards are built on: one section per published table with a
`| column | type | meaning |` table. Three things use it:

- the contract test compares a real publish with it (names, order, types), so a change to
  the published schema is deliberate: regenerate the doc and review the diff;
- `publish()` takes a column's `COMMENT ON` text from the dbt YAML (via dbt's manifest)
  and, where a column has no dbt description yet, from the doc's meaning;
- `python -m pipelines.defs.publish.schema [--build-db PATH]` (schema.py) rewrites the
  generated block of the doc from a real publish of a build database (meanings: dbt YAML,
  else the doc's).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.settings import PROJECT_ROOT

DOC_PATH = PROJECT_ROOT / "docs" / "published_schema.md"
BEGIN_MARKER = "<!-- BEGIN published tables"
END_MARKER = "<!-- END published tables -->"
NOTE_PREFIX = "Source:"  # the generated line under a heading; not part of the description
REGENERATE_HINT = (
    "regenerate the doc with `.venv/bin/python -m pipelines.defs.publish.schema` "
    "(after `segments run`), review the diff, and say in the change why the contract moved"
)

_HEADING = re.compile(r"^## `(?P<name>[a-z0-9_]+)`\s*$")
_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<type>[^|]+?) \| (?P<meaning>.*) \|\s*$")


@dataclass(frozen=True)
class DocColumn:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True)
class DocTable:
    """One published table as documented: its paragraph and its columns in order."""

    name: str
    description: str
    columns: tuple[DocColumn, ...]

    def signature(self) -> list[tuple[str, str]]:
        """(column, type) pairs in order: what the contract test compares."""
        return [(c.name, c.type) for c in self.columns]


def _generated_block(text: str, path: Path) -> str:
    start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(
            f"{path} has no generated block between '{BEGIN_MARKER} ...' and '{END_MARKER}'; "
            f"restore the markers, then {REGENERATE_HINT}"
        )
    return text[start:end]


def parse_schema_doc(text: str, path: Path = DOC_PATH) -> dict[str, DocTable]:
    """Tables of the generated block of the doc, by name, columns in documented order."""
    tables: dict[str, DocTable] = {}
    name: str | None = None
    description: list[str] = []
    columns: list[DocColumn] = []

    def flush() -> None:
        if name is not None:
            tables[name] = DocTable(name, " ".join(description).strip(), tuple(columns))

    for line in _generated_block(text, path).splitlines():
        heading = _HEADING.match(line)
        row = _ROW.match(line)
        if heading:
            flush()
            name, description, columns = heading["name"], [], []
        elif row and name is not None:
            meaning = row["meaning"].replace("\\|", "|").strip()
            columns.append(DocColumn(row["name"], row["type"].strip(), meaning))
        elif (
            name is not None
            and not columns
            and line.strip()
            and not line.startswith(("|", NOTE_PREFIX))
        ):
            description.append(line.strip())
    flush()
    return tables


def load_schema_doc(path: Path = DOC_PATH) -> dict[str, DocTable]:
    """The documented tables; empty when the doc is not there (an installed package)."""
    if not path.exists():
        return {}
    return parse_schema_doc(path.read_text(encoding="utf-8"), path)


def dbt_column_descriptions(manifest: dict) -> dict[str, dict[str, str]]:
    """`schema.table` → {column: description} for every dbt model, seed and source table that
    has any."""
    result: dict[str, dict[str, str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed"):
            continue
        described = {
            name: column["description"].strip()
            for name, column in node.get("columns", {}).items()
            if column.get("description", "").strip()
        }
        if described:
            result[f"{node['schema']}.{node.get('alias') or node['name']}"] = described
    # Tables written outside dbt (the CLV model step) are documented as dbt source tables.
    for source in manifest.get("sources", {}).values():
        described = {
            name: column["description"].strip()
            for name, column in source.get("columns", {}).items()
            if column.get("description", "").strip()
        }
        key = f"{source['schema']}.{source.get('identifier') or source['name']}"
        if described and key not in result:
            result[key] = described
    return result


def load_dbt_column_descriptions(manifest_path: Path) -> dict[str, dict[str, str]]:
    """As `dbt_column_descriptions`, from a manifest file; empty when it does not exist."""
    if not manifest_path.exists():
        return {}
    return dbt_column_descriptions(json.loads(manifest_path.read_text(encoding="utf-8")))


def published_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[DocColumn]]:
    """Columns of every table in the main schema of `con`, with their comments, in order."""
    rows = con.execute(
        "select table_name, column_name, data_type, coalesce(comment, '') "
        "from duckdb_columns() where schema_name = 'main' and database_name = current_database() "
        "order by table_name, column_index"
    ).fetchall()
    tables: dict[str, list[DocColumn]] = {}
    for table, column, data_type, comment in rows:
        tables.setdefault(table, []).append(DocColumn(column, data_type, comment))
    return tables


def published_table_comments(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "select table_name, coalesce(comment, '') from duckdb_tables() "
        "where schema_name = 'main' and database_name = current_database()"
    ).fetchall()
    return dict(rows)


def render_tables(tables: list[DocTable], notes: dict[str, str]) -> str:
    """The generated block: a `##` section per table; `notes` adds a line under a heading."""
    out = [
        f"{BEGIN_MARKER}: generated by `python -m pipelines.defs.publish.schema`. Column "
        "meanings: the dbt YAML of the model, else the meaning already here (kept). -->",
        "",
    ]
    for table in tables:
        out += [f"## `{table.name}`", "", table.description]
        if table.name in notes:
            out += ["", notes[table.name]]
        out += ["", "| column | type | meaning |", "| --- | --- | --- |"]
        for column in table.columns:
            meaning = column.meaning.replace("|", "\\|").replace("\n", " ") or "—"
            out.append(f"| `{column.name}` | {column.type} | {meaning} |")
        out.append("")
    return "\n".join(out)


def replace_generated_block(text: str, block: str, path: Path = DOC_PATH) -> str:
    _generated_block(text, path)  # raises with a clear message when the markers are gone
    start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    return text[:start] + block + text[end:]
