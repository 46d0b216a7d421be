"""Write-audit-publish: copy the BI-facing tables into a fresh DuckDB file, then swap it in.

The swap is `os.replace` of a fully written, checkpointed and closed file, so a BI reader
either sees the previous publish or this one, never a half-written table; a reader that
already has the old file open keeps its consistent view. The same tables are written as
Parquet into a new version folder whose `current` symlink is swapped right after the file
(see versioned_dir.py), so Parquet readers never mix two publishes either.

The published tables, their columns and types are a contract (docs/published_schema.md,
guarded by tests/defs/publish/test_schema_contract.py). Raw PII stays in the build
database unless `SEGMENTS_PUBLISH_PII=true`; `customer_key` is the join key.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.defs.publish.parquet import write_parquet_set
from pipelines.defs.publish.schema import DocTable, load_schema_doc
from pipelines.defs.publish.versioned_dir import current_version, staged_version
from pipelines.lib.duck import quote_ident, sql_str


@dataclass(frozen=True)
class PublishedTable:
    """One table of the published file and where it comes from in the build database."""

    name: str
    source: str  # schema.table in the build database
    description: str  # the grain first: BI tools show it as the table's comment
    required: bool = True  # False: skipped while the dbt model does not exist yet
    columns: tuple[str, ...] | None = None  # None: every column of the source, in its order
    pii: bool = False  # published only when SEGMENTS_PUBLISH_PII=true


# The BI contract: names here are what dashboards are built on (docs/published_schema.md).
PUBLISHED_TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        "customer_segments",
        "marts.customer_segments",
        "One row per customer as of the latest as-of date: RFM measures, scores and segment, "
        "and the label of every other segment family. Join key: customer_key.",
    ),
    PublishedTable(
        "rfm_score_cutoffs",
        "marts.rfm_score_cutoffs",
        "One row per as-of date, RFM dimension and score: the value range the score covered.",
    ),
    PublishedTable(
        "rfm_segment_definitions",
        "seeds.rfm_segment_descriptions",
        "One row per RFM segment (Putler's eleven): description and suggested action.",
        required=False,
    ),
    PublishedTable(
        "segment_profiles",
        "marts.segment_profiles",
        "One row per segment per as-of date: size, revenue, averages.",
        required=False,
    ),
    PublishedTable(
        "segment_transitions",
        "marts.segment_transitions",
        "Customers moving from one segment to another between consecutive snapshots.",
        required=False,
    ),
    PublishedTable(
        "segment_snapshots",
        "marts.segment_snapshots",
        "One row per customer per as-of date: the segment labels they had then.",
        required=False,
    ),
    PublishedTable(
        "dynamic_segment_members",
        "marts.dynamic_segment_members",
        "One row per as-of date, analyst-defined segment and member customer.",
        required=False,
    ),
    PublishedTable(
        "customer_contacts",
        "marts.dim_customers",
        "One row per customer: name, email, phone and marketing consent, for BI users "
        "allowed to see personal data. Join key: customer_key.",
        required=False,
        columns=(
            "customer_key",
            "first_name",
            "last_name",
            "email",
            "phone",
            "has_marketing_consent",
        ),
        pii=True,
    ),
)

# Columns that identify a person. Left out of every published table unless
# SEGMENTS_PUBLISH_PII=true. Exact names, not patterns: `email_opens_last_90_days` is not PII.
PII_COLUMNS: frozenset[str] = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "full_name",
        "name",
        "birth_date",
        "customer_email",
        "customer_phone",
        "billing_name",
        "billing_phone",
        "billing_email",
        "anchor_identifier",
        "alias_value",
    }
)


# The on-disk format of the published file. DuckDB 2.0 would write its newest format, which
# only DuckDB >= 2.0 can open; BI tools embed their own, often older, DuckDB (Metabase's and
# DBeaver's JDBC driver, Evidence, Superset's duckdb-engine), so publish in the v1.0 format,
# readable by every DuckDB since 1.0 (June 2024). The build database keeps the newest format.
STORAGE_VERSION = "v1.0.0"


class PublishError(RuntimeError):
    """The publish could not be completed; the previously published file is untouched."""


@dataclass(frozen=True)
class PublishResult:
    path: Path
    row_counts: dict[str, int]
    bytes: int
    parquet_dir: Path | None = None  # the version folder `parquet/current` now points at
    skipped: tuple[str, ...] = field(default=())  # optional tables the build has no source for


def _source_columns(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    """`schema.table` → column names in order, for every table and view of `catalog`."""
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_catalog = ? order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def select_columns(table: PublishedTable, available: list[str], include_pii: bool) -> list[str]:
    """The columns to publish for `table`, in source order: its own list (or all), minus PII
    unless `include_pii`. A listed column missing from the source is an error."""
    wanted = list(table.columns) if table.columns is not None else list(available)
    missing = [c for c in wanted if c not in available]
    if missing:
        raise PublishError(
            f"{table.source} has no column(s) {', '.join(missing)} that the published table "
            f"{table.name} needs; the dbt model changed. Restore the column(s) or change "
            "PUBLISHED_TABLES and docs/published_schema.md together."
        )
    return [c for c in wanted if include_pii or c not in PII_COLUMNS]


def _comment_sql(target: str, text: str) -> str:
    # COMMENT ON takes no bound parameters; the text is ours or the dbt YAML's, quoted here.
    return f"comment on {target} is {sql_str(text)}"


def _column_comments(
    table: PublishedTable,
    dbt_descriptions: Mapping[str, Mapping[str, str]],
    documented: Mapping[str, DocTable],
) -> dict[str, str]:
    """Column → comment: the dbt YAML's description, else the contract doc's meaning."""
    from_doc = (
        {c.name: c.meaning for c in documented[table.name].columns}
        if table.name in documented
        else {}
    )
    from_dbt = dbt_descriptions.get(table.source, {})
    return {**{k: v for k, v in from_doc.items() if v and v != "—"}, **from_dbt}


def _build_published_file(
    tmp: Path,
    build_db: Path,
    tables: tuple[PublishedTable, ...],
    include_pii: bool,
    dbt_descriptions: Mapping[str, Mapping[str, str]],
    documented: Mapping[str, DocTable],
) -> tuple[dict[str, int], list[str]]:
    """Create every table in the new file `tmp`, with comments; checkpoint and close it."""
    counts: dict[str, int] = {}
    skipped: list[str] = []
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"attach {sql_str(os.fspath(tmp))} as pub (storage_version {sql_str(STORAGE_VERSION)})"
        )
        con.execute(f"attach {sql_str(os.fspath(build_db))} as build (read_only)")
        sources = _source_columns(con, "build")
        for table in tables:
            if table.pii and not include_pii:
                continue
            if table.source not in sources:
                if table.required:
                    raise PublishError(
                        f"build database {build_db} has no {table.source}: the dbt run did "
                        "not produce it. Run `segments run` again and check the dbt step."
                    )
                skipped.append(table.name)
                continue
            columns = select_columns(table, sources[table.source], include_pii)
            select_list = ", ".join(quote_ident(c) for c in columns)
            schema, name = table.source.split(".")
            target = f"pub.main.{quote_ident(table.name)}"
            con.execute(
                f"create table {target} as "
                f"select {select_list} from build.{quote_ident(schema)}.{quote_ident(name)}"
            )
            con.execute(_comment_sql(f"table {target}", table.description))
            comments = _column_comments(table, dbt_descriptions, documented)
            for column in columns:
                if comments.get(column):
                    con.execute(
                        _comment_sql(f"column {target}.{quote_ident(column)}", comments[column])
                    )
            counts[table.name] = con.execute(f"select count(*) from {target}").fetchone()[0]
        con.execute("detach build")
        con.execute("checkpoint pub")
        con.execute("detach pub")
    finally:
        con.close()
    return counts, skipped


def _swap_in(tmp: Path, published_db: Path) -> None:
    """fsync the new file, rename it over the published one, fsync the folder."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, published_db)
    dir_fd = os.open(published_db.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def publish(
    build_db: Path,
    published_db: Path,
    tables: tuple[PublishedTable, ...] = PUBLISHED_TABLES,
    *,
    include_pii: bool = False,
    parquet_dir: Path | None = None,
    column_descriptions: Mapping[str, Mapping[str, str]] | None = None,
    documented: Mapping[str, DocTable] | None = None,
) -> PublishResult:
    """Build a new published file from `build_db` and atomically replace `published_db`.

    `parquet_dir`: also write every table as `<parquet_dir>/current/<table>.parquet`, swapped
    as a set. `column_descriptions`: `schema.table` → {column: text} from dbt's manifest,
    used for `COMMENT ON COLUMN`; columns without one get the contract doc's meaning
    (`documented`, default docs/published_schema.md). On any error nothing is replaced.
    """
    published_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_db.with_name(f".{published_db.name}.{uuid.uuid4().hex}.tmp")
    documented = load_schema_doc() if documented is None else documented
    parquet_version: Path | None = None
    try:
        counts, skipped = _build_published_file(
            tmp, build_db, tables, include_pii, column_descriptions or {}, documented
        )
        if parquet_dir is None:
            _swap_in(tmp, published_db)
        else:
            with staged_version(parquet_dir) as staging:
                write_parquet_set(tmp, staging, list(counts))
                _swap_in(tmp, published_db)
            parquet_version = current_version(parquet_dir)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return PublishResult(
        published_db, counts, published_db.stat().st_size, parquet_version, tuple(skipped)
    )
