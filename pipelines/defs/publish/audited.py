"""What exports and the report read: audited data only, never the build database.

Downstream of the gate, every reader opens published files (DESIGN.md "everything downstream
of the gate reads the published data"). Two files are published together, after every
blocking check of the run passed:

- `segments.duckdb`: the BI file (publish.py, docs/published_schema.md), no PII by default;
- `audited.duckdb`: the few build tables exports and the report need besides the BI tables,
  under their build names (`marts.dim_customers` contact columns, every source id of
  `marts.customer_source_ids` (emails included), `marts.customer_facts`
  export columns for every as-of date `segment_snapshots` has (the build holds the latest
  run's dates only: each publish adds those and keeps the others),
  recent `marts.fct_transactions`, RFM seeds,
  `meta.load_manifest`, quarantine reason counts). It holds PII (names, emails, phones for
  campaign exports), so it is written with mode 0600 and is **not** for BI tools.

`open_audited` gives a DuckDB session in which both files are attached read-only and a
`build` catalog of views names every audited table as the build database did
(`build.marts.customer_segments` → `pub.main.customer_segments`, `build.marts.dim_customers`
→ `aud.marts.dim_customers`, ...). So the exports' and report's SQL reads `build.*` as
before, but what it reads is what the last successful publish audited: a run whose gate
failed changes neither file, and exports keep serving the previous publish.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.defs.publish.publish import (
    PUBLISHED_TABLES,
    PublishedTable,
    PublishResult,
    publish,
)
from pipelines.lib.duck import DatabaseBusyError, connect, quote_ident, sql_str

AUDITED_NAME = "audited.duckdb"
NOTHING_PUBLISHED = (
    "nothing is published yet: run `segments run` (a run whose checks pass publishes)"
)

# Build tables that exports and the report read and the BI file does not carry, published
# under their build names. Columns: only what those readers use.
AUDITED_TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        "dim_customers",
        "marts.dim_customers",
        "Campaign contact fields per customer (PII): for CSV exports only.",
        columns=("customer_key", "first_name", "email", "phone", "has_marketing_consent"),
        schema="marts",
    ),
    PublishedTable(
        "customer_source_ids",
        "marts.customer_source_ids",
        "Every source id of every customer, emails and phones included (PII): for exports.",
        columns=("customer_key", "source", "id_type", "source_customer_id", "is_pii"),
        schema="marts",
        required=False,
    ),
    PublishedTable(
        "customer_facts",
        "marts.customer_facts",
        "Per customer and as-of date: the facts exports merge into messages.",
        columns=(
            "customer_key",
            "as_of_date",
            "first_order_date",
            "last_order_date",
            "average_order_value",
            "preferred_category",
        ),
        schema="marts",
        history_key="as_of_date",
        # the build holds the latest run's dates only; exports of an earlier as-of date
        # (`segments export --as-of`) need that date's facts
        keep_dates_of="marts.segment_snapshots",
    ),
    PublishedTable(
        "fct_transactions",
        "marts.fct_transactions",
        "The last two weeks of transactions before the latest as-of date (report KPIs).",
        columns=(
            "customer_key",
            "transaction_date",
            "net_amount",
            "refunded_amount",
            "is_purchase",
        ),
        schema="marts",
        where=(
            "transaction_date >= (select max(as_of_date) from build.marts.customer_segments) "
            "- interval 14 day"
        ),
        required=False,
    ),
    PublishedTable(
        "rfm_segment_descriptions",
        "seeds.rfm_segment_descriptions",
        "Putler's RFM segments with description and suggested action.",
        schema="seeds",
        required=False,
    ),
    PublishedTable(
        "rfm_segment_map",
        "seeds.rfm_segment_map",
        "RFM grid cells.",
        schema="seeds",
        required=False,
    ),
    PublishedTable(
        "load_manifest",
        "meta.load_manifest",
        "Every landed file: status and rows loaded, quarantined, waiting.",
        schema="meta",
        required=False,
    ),
)


def quarantine_tables(build_db: Path) -> tuple[PublishedTable, ...]:
    """quarantine.<source> → reason code and load time of each rejected row (the report
    counts them); the rows' raw text stays in the build database."""
    with duckdb.connect(os.fspath(build_db), read_only=True) as con:
        sources = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.columns where table_schema = "
                "'quarantine' and column_name = 'reason_code' order by 1"
            ).fetchall()
        ]
    return tuple(
        PublishedTable(
            s,
            f"quarantine.{s}",
            f"Rejected {s} rows: reason code and load time.",
            columns=("reason_code", "_loaded_at"),
            schema="quarantine",
        )
        for s in sources
    )


def publish_audited(
    build_db: Path,
    audited_db: Path,
    *,
    incremental: bool = True,
) -> PublishResult:
    """Publish AUDITED_TABLES (+ quarantine counts) from `build_db` to `audited_db` (0600)."""
    return publish(
        build_db,
        audited_db,
        (*AUDITED_TABLES, *quarantine_tables(build_db)),
        include_pii=True,
        column_descriptions={},
        documented={},
        incremental=incremental,
        file_mode=0o600,
    )


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
    try:
        con.execute(f"attach {sql_str(os.fspath(path))} as {alias} (read_only)")
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise DatabaseBusyError(
            f"{path} is being written; try again in a moment. DuckDB said: {exc}"
        ) from exc


def _views(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """build name (`schema.table`) → relation in `catalog`, for the tables it holds."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?",
        [catalog],
    ).fetchall()
    if catalog == "pub":
        by_name = {t.name: t.source for t in PUBLISHED_TABLES if not t.pii}
        return {
            by_name[name]: f"pub.main.{quote_ident(name)}"
            for schema, name in tables
            if schema == "main" and name in by_name
        }
    return {
        f"{schema}.{name}": f"{catalog}.{quote_ident(schema)}.{quote_ident(name)}"
        for schema, name in tables
    }


@contextmanager
def open_audited(
    published_db: Path, audited_db: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory session with the published files attached read-only (`pub`, `aud`) and
    a `build` catalog of views that names their tables as the build database does.

    Raises FileNotFoundError (NOTHING_PUBLISHED) before the first successful publish.
    """
    audited_db = audited_db or published_db.with_name(AUDITED_NAME)
    if not published_db.exists():
        raise FileNotFoundError(f"{published_db} does not exist: {NOTHING_PUBLISHED}.")
    # the memory limit, spill folder and Ctrl-C of every pipeline connection: the exports
    # of a 30M warehouse took 11.7 GiB through a plain in-memory session
    with connect(":memory:", spill_next_to=published_db) as con:
        _attach(con, published_db, "pub")
        views = _views(con, "pub")
        if audited_db.exists():
            _attach(con, audited_db, "aud")
            views.update(_views(con, "aud"))  # aud's build names win (none overlap today)
        con.execute("attach ':memory:' as build")
        for schema in sorted({name.split(".")[0] for name in views}):
            con.execute(f"create schema build.{quote_ident(schema)}")
        for name, relation in sorted(views.items()):
            schema, table = name.split(".")
            con.execute(
                f"create view build.{quote_ident(schema)}.{quote_ident(table)} as "
                f"select * from {relation}"
            )
        yield con


def publish_with_audited(
    build_db: Path, published_db: Path, **kwargs
) -> tuple[PublishResult, PublishResult]:
    """Publish the companion `audited.duckdb` beside `published_db`, then the BI file itself
    (publish.publish with `kwargs`). The companion goes first: if the BI swap then fails,
    readers see new contacts with the previous membership, never unaudited data."""
    audited = publish_audited(build_db, published_db.with_name(AUDITED_NAME))
    return publish(build_db, published_db, **kwargs), audited
