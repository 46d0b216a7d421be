"""Write-audit-publish: copy the BI-facing tables into a fresh DuckDB file, then swap it in.

The swap is `os.replace` of a fully written, checkpointed and closed file, so a BI reader
either sees the previous publish or this one, never a half-written table; a reader that
already has the old file open keeps its consistent view.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class PublishedTable:
    name: str
    source: str  # schema.table in the build database
    description: str
    required: bool = True


# The BI contract: names here are what dashboards are built on (docs/published_schema.md).
PUBLISHED_TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        "customer_segments", "marts.customer_segments",
        "One row per customer as of the latest as-of date: RFM measures, scores and segment.",
    ),
    PublishedTable(
        "rfm_score_cutoffs", "marts.rfm_score_cutoffs",
        "The value ranges each R, F and M score covered, per as-of date.",
    ),
    PublishedTable(
        "rfm_segment_definitions", "seeds.rfm_segment_descriptions",
        "Putler's 11 RFM segments: description and suggested action.", required=False,
    ),
    PublishedTable(
        "segment_profiles", "marts.segment_profiles",
        "One row per segment per as-of date: size, revenue, averages.", required=False,
    ),
    PublishedTable(
        "segment_transitions", "marts.segment_transitions",
        "Customers moving from one segment to another between consecutive snapshots.",
        required=False,
    ),
    PublishedTable(
        "segment_snapshots", "marts.segment_snapshots",
        "Each customer's segment labels per as-of date.", required=False,
    ),
    PublishedTable(
        "dynamic_segment_members", "marts.dynamic_segment_members",
        "One row per as-of date, analyst-defined segment and member customer.", required=False,
    ),
)


class PublishError(RuntimeError):
    """The publish could not be completed; the previously published file is untouched."""


@dataclass(frozen=True)
class PublishResult:
    path: Path
    row_counts: dict[str, int]
    bytes: int


def _sql_literal(text: str) -> str:
    """A SQL string literal; COMMENT ON takes no bound parameters. Only our own text goes here."""
    return "'" + text.replace("'", "''") + "'"


def _existing_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = ?",
        [catalog],
    ).fetchall()
    return {r[0] for r in rows}


def publish(build_db: Path, published_db: Path, tables=PUBLISHED_TABLES) -> PublishResult:
    """Build a new published file from `build_db` and atomically replace `published_db`."""
    published_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = published_db.with_name(f".{published_db.name}.{uuid.uuid4().hex}.tmp")
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(os.fspath(tmp))
        try:
            con.execute(f"attach '{os.fspath(build_db)}' as build (read_only)")
            existing = _existing_tables(con, "build")
            for table in tables:
                if table.source not in existing:
                    if table.required:
                        raise PublishError(
                            f"build database {build_db} has no {table.source}: the dbt run did "
                            "not produce it. Run `segments run` again and check the dbt step."
                        )
                    continue
                con.execute(f"create table main.{table.name} as select * from build.{table.source}")
                con.execute(f"comment on table main.{table.name} is {_sql_literal(table.description)}")
                counts[table.name] = con.execute(f"select count(*) from main.{table.name}").fetchone()[0]
            con.execute("detach build")
            con.execute("checkpoint")
        finally:
            con.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, published_db)
        dir_fd = os.open(published_db.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return PublishResult(published_db, counts, published_db.stat().st_size)
