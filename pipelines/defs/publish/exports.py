"""Segment member lists for campaign tools (seed 004: personalised SMS and email).

One CSV row per member customer with the fields a campaign tool merges into a message:

    customer_key, first_name, email, phone, last_purchase_date, average_order_value,
    currency, favourite_category, segment_family, segment, suggested_action, as_of_date,
    has_marketing_consent, consent_basis, source_ids

`source_ids` leads back to the ids your own systems use: every id the sources know the
customer by (`customer_source_ids`), as `<source>:<id>` sorted and `;`-separated, e.g.
`generic/pos:L1;shopify:anna@mail.com;stripe:cus_9` (emails and phones included: an export
holds contact data by design, whatever SEGMENTS_PUBLISH_PII says for the BI file).

Everything is read from the published, audited files (audited.py), never the build
database: membership from `segments.duckdb` (every family: `customer_segments` for the latest
as-of date, `segment_snapshots` for earlier ones; dynamic segments from
`dynamic_segment_members`); names, emails and phones from `marts.dim_customers` in
`audited.duckdb` (the BI file leaves PII out). A run whose checks failed publishes neither,
so exports keep serving the last audited data. Consent is the customer's *current* consent
(`dim_customers.has_marketing_consent`), even for a past as-of date: someone who withdrew
consent yesterday must not get today's campaign. A source without consent data (no CRM) has
a consent rule (consent.py, `SEGMENTS_EXPORT_CONSENT`; default `crm`: no CRM consent, no
export); `has_marketing_consent` is the decision and `consent_basis` says why (`crm` or
`rule:<source>`). Without consent a customer is left out unless the caller asks otherwise
(`include_no_consent`); sources without any consent data are named (`consent_notes`,
`consent.csv` in the export set).

`export_segment` writes one segment on demand (`segments export`); `refresh_exports` writes
every segment of every family after each publish, as one versioned set under
`$SEGMENTS_WAREHOUSE_DIR/exports/current/` (see versioned_dir.py).

Exports hold emails and phones by design, so they are private to the pipeline's user: every
export file is 0600 and the folders the pipeline creates for them are 0700 (`exports/` and
everything under it; for `--output` elsewhere, the file only). The folder is made private
before anything is written into it, so no other user can open a file even while it is
being written.
"""

from __future__ import annotations

import csv
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.defs.publish import consent
from pipelines.defs.publish.families import slug
from pipelines.defs.publish.membership import (
    ExportError,
    SegmentRef,
    available_segments,
    build_columns,
    latest_as_of,
    members_sql,
    membership_selects,
    open_published,
    resolve_segment,
)
from pipelines.defs.publish.versioned_dir import current_version, staged_version
from pipelines.lib import duck
from pipelines.lib.duck import sql_str

__all__ = ["ExportError", "SegmentRef", "export_segment", "refresh_exports"]

EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_key",
    "first_name",
    "email",
    "phone",
    "last_purchase_date",
    "average_order_value",
    "currency",
    "favourite_category",
    "segment_family",
    "segment",
    "suggested_action",
    "as_of_date",
    "has_marketing_consent",
    "consent_basis",
    "source_ids",
)
ACTIONS_CSV = Path(__file__).with_name("segment_actions.csv")
INDEX_NAME = "index.csv"
CONSENT_NAME = "consent.csv"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    segment: SegmentRef
    as_of: date
    rows: int  # rows written
    left_out_no_consent: int  # members without marketing consent, not written
    consent_notes: tuple[str, ...] = ()  # sources without consent data (consent.py)


def suggested_actions(
    con: duckdb.DuckDBPyConnection, segments: list[SegmentRef], actions_csv: Path = ACTIONS_CSV
) -> dict[tuple[str, str], str]:
    """(family, label) → suggested action. RFM: the dbt seed's text; other families:
    segment_actions.csv by slug, else that family's `*` row; else empty."""
    table: dict[tuple[str, str], str] = {}
    with open(actions_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table[
                (row["segment_family"], slug(row["segment"]) if row["segment"] != "*" else "*")
            ] = row["suggested_action"]
    rfm: dict[str, str] = {}
    if "seeds.rfm_segment_descriptions" in build_columns(con):
        rfm = dict(
            con.execute(
                "select rfm_segment, suggested_action from build.seeds.rfm_segment_descriptions"
            ).fetchall()
        )
    result = {}
    for s in segments:
        result[(s.family, s.label)] = (
            (rfm.get(s.label) if s.family == "rfm" else None)
            or table.get((s.family, slug(s.label)))
            or table.get((s.family, "*"), "")
        )
    return result


def _create_export_tables(
    con: duckdb.DuckDBPyConnection,
    selects: dict[str, str],
    segments: list[SegmentRef],
    as_of: date,
    currency: str,
    include_no_consent: bool,
    consent_rules: tuple[tuple[str, str], ...] = (),
) -> list[consent.SourceConsent]:
    """The tables `_copy_segment` reads; returns the consent coverage per source.

    `export_segments` (segment_no, segment_family, segment, suggested_action): one row per
    segment, numbered in the order of `segments`. `export_members` (segment_no,
    customer_key): the members of `segments` who may be written, in segment order, so a
    segment's COPY reads only its own row groups (sorted by a number rather than by the names
    and action text: 2.1 → 0.75 s for 3.9M members at 10M transactions; each COPY sorts its
    segment by customer). `export_customers`: the other EXPORT_COLUMNS, one row per
    customer. Contact data, facts and source ids are held once per customer, not once per
    membership: at 10M transactions one wide row per membership was 8.7M rows, and sorting
    them ran out of memory under a 2GB limit."""
    actions = suggested_actions(con, segments)
    has_ids = consent.SOURCE_IDS in build_columns(con)
    consent.create_customer_consent(con, consent_rules, has_ids)
    # export_segments, export_members and export_customers are tables of the session's own
    # in-memory database, not temp tables: the COPYs read them from worker cursors
    # (refresh_exports)
    con.execute(
        "create or replace table export_segments "
        "(segment_no integer, segment_family varchar, segment varchar, suggested_action varchar)"
    )
    con.executemany(
        "insert into export_segments values (?, ?, ?, ?)",
        [(n, s.family, s.label, actions[(s.family, s.label)]) for n, s in enumerate(segments)],
    )
    con.execute(
        f"""
        create or replace table export_members as
        with members as ({members_sql(selects)})
        select w.segment_no, m.customer_key
        from members as m
        inner join export_segments as w
            on w.segment_family = m.segment_family and w.segment = m.segment
        left join customer_consent as c
            on c.customer_key = m.customer_key
        where $include_no_consent or coalesce(c.has_consent, false)
        order by w.segment_no
        """,
        {"as_of": as_of, "include_no_consent": include_no_consent},
    )
    con.execute(
        "create or replace temp table export_keys as "
        "select distinct customer_key from export_members"
    )
    consent.create_source_id_lists(con, "export_keys", has_ids)
    con.execute(
        """
        create or replace table export_customers as
        select
            k.customer_key,
            d.first_name,
            d.email,
            d.phone,
            f.last_order_date as last_purchase_date,
            f.average_order_value,
            $currency as currency,
            f.preferred_category as favourite_category,
            $as_of::date as as_of_date,
            coalesce(c.has_consent, false) as has_marketing_consent,
            c.consent_basis,
            ids.source_ids
        from export_keys as k
        left join build.marts.customer_facts as f
            on f.customer_key = k.customer_key and f.as_of_date = $as_of
        left join build.marts.dim_customers as d
            on d.customer_key = k.customer_key
        left join customer_consent as c
            on c.customer_key = k.customer_key
        left join source_id_lists as ids
            on ids.customer_key = k.customer_key
        """,
        {"as_of": as_of, "currency": currency},
    )
    return consent.coverage(con, consent_rules, has_ids)


PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def _private_dir(folder: Path) -> None:
    """Create `folder` (and missing parents) readable by the owner only; an existing folder
    is tightened to 0700 too (exports from before this rule were 0755)."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(folder, PRIVATE_DIR_MODE)


def _private_tree(folder: Path) -> None:
    """Every file under `folder` 0600, every folder 0700 (DuckDB's COPY and `open` create
    files with the umask's mode, usually 0644)."""
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        os.chmod(path, PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE)
    os.chmod(folder, PRIVATE_DIR_MODE)


_SEGMENT_COLUMNS = frozenset({"segment_family", "segment", "suggested_action"})


def _copy_segment(con: duckdb.DuckDBPyConnection, segment_no: int, target: Path) -> int:
    """Write the members of segment number `segment_no` (`_create_export_tables`) as CSV,
    sorted by customer_key, with a header even when empty; returns the rows written (COPY
    reports them)."""
    columns = ", ".join(
        f"s.{c}" if c in _SEGMENT_COLUMNS else "m.customer_key" if c == "customer_key" else f"c.{c}"
        for c in EXPORT_COLUMNS
    )
    return con.execute(
        f"copy (select {columns} from export_members as m "
        "inner join export_segments as s on s.segment_no = m.segment_no "
        "inner join export_customers as c on c.customer_key = m.customer_key "
        "where m.segment_no = ? order by m.customer_key) "
        f"to {sql_str(os.fspath(target))} (format csv, header true)",
        [segment_no],
    ).fetchone()[0]


def _copy_segments(
    con: duckdb.DuckDBPyConnection, segments: list[SegmentRef], targets: dict[SegmentRef, Path]
) -> dict[SegmentRef, int]:
    """`_copy_segment` for every segment of `segments` (as given to `_create_export_tables`,
    which numbered them in this order) to its file in `targets`, on as many worker cursors as
    DuckDB has threads, largest segments first; returns the rows written per segment. One
    COPY leaves cores idle (a small segment's file is written by one thread): at 10M
    transactions the 55 files took ~30% less time on two cores than one after another
    (docs/performance.md)."""
    number = {s: n for n, s in enumerate(segments)}
    todo = sorted(segments, key=lambda s: -s.members)
    rows: dict[SegmentRef, int] = {}
    lock = threading.Lock()

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        while True:
            with lock:
                if not todo:
                    return
                segment = todo.pop(0)
            rows[segment] = _copy_segment(cur, number[segment], targets[segment])

    # a worker's error (or Ctrl-C) fails the export set
    duck.on_worker_cursors(con, work, len(todo), "exports")
    return rows


def default_output(exports_dir: Path, segment: SegmentRef, as_of: date) -> Path:
    """Where `segments export` writes without --output: beside the per-publish exports."""
    return exports_dir / "on_demand" / segment.family / f"{slug(segment.label)}_{as_of}.csv"


def export_segment(
    published_db: Path,
    segment: str,
    *,
    family: str | None = None,
    as_of: date | None = None,
    include_no_consent: bool = False,
    output: Path | None = None,
    exports_dir: Path,
    currency: str,
    consent_rules: tuple[tuple[str, str], ...] = (),
) -> ExportResult:
    """Write the members of one segment to a CSV (atomically: temp file, then rename).
    `consent_rules`: source → rule for customers without CRM consent (consent.py)."""
    with open_published(published_db) as con:
        as_of = as_of or latest_as_of(con)
        ref = resolve_segment(con, segment, family, as_of)
        selects = {ref.family: membership_selects(con, as_of)[ref.family]}
        sources = _create_export_tables(
            con, selects, [ref], as_of, currency, include_no_consent, consent_rules
        )
        target = output or default_output(exports_dir, ref, as_of)
        if output is None:
            _private_dir(exports_dir)
            for folder in reversed(target.parent.relative_to(exports_dir).parents):
                _private_dir(exports_dir / folder)
            _private_dir(target.parent)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            # created 0600 before DuckDB writes into it: COPY keeps an existing file's mode
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
            rows = _copy_segment(con, 0, tmp)  # the one segment given to the tables
            os.chmod(tmp, PRIVATE_FILE_MODE)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return ExportResult(target, ref, as_of, rows, ref.members - rows, tuple(consent.notes(sources)))


@dataclass(frozen=True)
class ExportSet:
    folder: Path  # the version folder `exports/current` points at
    as_of: date
    files: tuple[tuple[SegmentRef, Path, int], ...]  # segment, file, rows written
    consent: tuple[consent.SourceConsent, ...] = ()  # per source: consent data and rule

    @property
    def consent_notes(self) -> list[str]:
        return consent.notes(self.consent)


def _file_names(segments: list[SegmentRef]) -> dict[SegmentRef, str]:
    """`<family>/<slug>.csv`, with `-2`, `-3` when two labels share a slug ("VIP", "vip")."""
    names: dict[SegmentRef, str] = {}
    taken: set[str] = set()
    for s in segments:
        base = f"{s.family}/{slug(s.label)}"
        name, n = f"{base}.csv", 1
        while name in taken:
            n += 1
            name = f"{base}-{n}.csv"
        taken.add(name)
        names[s] = name
    return names


def refresh_exports(
    published_db: Path,
    exports_dir: Path,
    currency: str,
    consent_rules: tuple[tuple[str, str], ...] = (),
) -> ExportSet:
    """One CSV per segment of every family as of the latest as-of date, consenting members
    only (`consent_rules`, consent.py), swapped in as a set at `exports_dir/current/`, with an
    `index.csv` listing them and a `consent.csv` saying, per source, how many customers have
    no consent data and which rule applied."""
    with open_published(published_db) as con:
        as_of = latest_as_of(con)
        selects = membership_selects(con, as_of)
        segments = available_segments(con, selects, as_of)
        sources = _create_export_tables(
            con, selects, segments, as_of, currency, False, consent_rules
        )
        names = _file_names(segments)
        written: list[tuple[SegmentRef, Path, int]] = []
        _private_dir(exports_dir)
        with staged_version(exports_dir) as staging:
            os.chmod(staging, PRIVATE_DIR_MODE)
            for s in segments:
                (staging / names[s]).parent.mkdir(parents=True, exist_ok=True)
            rows = _copy_segments(con, segments, {s: staging / names[s] for s in segments})
            written.extend((s, Path(names[s]), rows[s]) for s in segments)
            with open(staging / INDEX_NAME, "w", newline="", encoding="utf-8") as fh:
                out = csv.writer(fh)
                out.writerow(
                    [
                        "segment_family",
                        "segment",
                        "file",
                        "rows",
                        "left_out_no_consent",
                        "as_of_date",
                    ]
                )
                for s, path, rows in written:
                    out.writerow(
                        [s.family, s.label, path.as_posix(), rows, s.members - rows, as_of]
                    )
            with open(staging / CONSENT_NAME, "w", newline="", encoding="utf-8") as fh:
                out = csv.writer(fh)
                out.writerow(["source", "customers", "without_consent_data", "rule", "note"])
                for c in sources:
                    out.writerow([c.source, c.customers, c.without_consent_data, c.rule, c.note()])
            _private_tree(staging)
    folder = current_version(exports_dir)
    assert folder is not None  # staged_version just pointed `current` at it
    return ExportSet(
        folder, as_of, tuple((s, folder / p, n) for s, p, n in written), tuple(sources)
    )
