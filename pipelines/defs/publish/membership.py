"""Who is in a segment as of a date, read from the published (audited) files; and which
segment a user means by a name.

Reads go through `audited.open_audited`: the SQL names tables as the build database does
(`build.marts.customer_segments`), but they resolve to the published files, so a run whose
gate failed never reaches an export.

Membership per family: `customer_segments` for the latest as-of date, `segment_snapshots`
(every family's label per customer and as-of date, RFM included) for earlier ones,
`dynamic_segment_members` for analyst-defined segments. Only identifiers defined in this
package reach SQL text; labels and dates are bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.defs.publish.audited import open_audited
from pipelines.defs.publish.families import DYNAMIC, FAMILIES, FAMILY_NAMES, slug
from pipelines.lib.duck import sql_str

# Where a family's labels live, in order of preference. customer_segments holds only the
# latest as-of date; the history tables hold every as-of date a run computed.
CURRENT_TABLE = "marts.customer_segments"
HISTORY_TABLES = ("marts.segment_snapshots",)
DYNAMIC_TABLE = "marts.dynamic_segment_members"


class ExportError(ValueError):
    """The export cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class SegmentRef:
    """One segment: its family and its label exactly as the warehouse spells it."""

    family: str
    label: str
    members: int = 0  # all members as of the date, with or without consent


@contextmanager
def open_published(published_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory session (for temp tables) over the published files, with their tables
    under build names in the `build` catalog (audited.open_audited). ExportError when
    nothing is published yet."""
    try:
        with open_audited(published_db) as con:
            yield con
    except FileNotFoundError as exc:
        raise ExportError(str(exc)) from exc


def build_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """`schema.table` → its columns, for every table and view of the attached build db."""
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_catalog = 'build'"
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    return columns


def latest_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The as-of date of the current segments (`marts.customer_segments`)."""
    value = con.execute(f"select max(as_of_date) from build.{CURRENT_TABLE}").fetchone()[0]
    if value is None:
        raise ExportError(f"build.{CURRENT_TABLE} is empty: run `segments run` first.")
    return value


def _has_as_of(con: duckdb.DuckDBPyConnection, table: str, as_of: date) -> bool:
    return bool(
        con.execute(f"select 1 from build.{table} where as_of_date = ? limit 1", [as_of]).fetchall()
    )


def membership_selects(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, str]:
    """Family → SQL `select customer_key, segment` of its members as of `$as_of`.

    A family whose column no table holds for that date is left out (not built yet, or a
    past date only RFM history covers). Only our own identifiers reach the SQL text.
    """
    columns = build_columns(con)
    tables = ([CURRENT_TABLE] if as_of == latest_as_of(con) else []) + list(HISTORY_TABLES)
    dated = {t for t in tables if t in columns and _has_as_of(con, t, as_of)}
    selects: dict[str, str] = {}
    for fam in FAMILIES:
        table = next((t for t in tables if t in dated and fam.column in columns[t]), None)
        if table is not None:
            selects[fam.name] = (
                f"select customer_key, {fam.label_sql('t')} as segment "
                f"from build.{table} t where t.as_of_date = $as_of"
            )
    if DYNAMIC_TABLE in columns:
        selects[DYNAMIC] = (
            "select customer_key, cast(segment_name as varchar) as segment "
            f"from build.{DYNAMIC_TABLE} t where t.as_of_date = $as_of"
        )
    return selects


def members_sql(selects: dict[str, str]) -> str:
    """Union of every family's members: (segment_family, customer_key, segment)."""
    parts = [
        f"select {sql_str(name)} as segment_family, customer_key, segment from ({sql}) "
        "where segment is not null"
        for name, sql in selects.items()
    ]
    return " union all ".join(parts)


def available_segments(
    con: duckdb.DuckDBPyConnection, selects: dict[str, str], as_of: date
) -> list[SegmentRef]:
    """Every segment with at least one member as of `as_of`, with its member count."""
    if not selects:
        return []
    rows = con.execute(
        f"select segment_family, segment, count(*) from ({members_sql(selects)}) "
        "group by all order by 1, 2",
        {"as_of": as_of},
    ).fetchall()
    return [SegmentRef(family, label, n) for family, label, n in rows]


def match_segment(name: str, segments: list[SegmentRef]) -> list[SegmentRef]:
    """Segments called `name`: exact spelling first, then ignoring case, then by slug, so
    `--segment "At Risk"`, `--segment "at risk"` and `--segment at_risk` all work."""
    for same in (
        lambda s: s.label == name,
        lambda s: s.label.casefold() == name.casefold(),
        lambda s: slug(s.label) == slug(name),
    ):
        found = [s for s in segments if same(s)]
        if found:
            return found
    return []


def resolve_segment(
    con: duckdb.DuckDBPyConnection, name: str, family: str | None, as_of: date
) -> SegmentRef:
    """The one segment `name` (in `family` if given) as of `as_of`, or an ExportError that
    lists what exists."""
    if family is not None and family not in FAMILY_NAMES:
        raise ExportError(f"unknown --family {family!r}; choose one of {', '.join(FAMILY_NAMES)}")
    selects = membership_selects(con, as_of)
    if family is not None:
        if family not in selects:
            raise ExportError(
                f"segment family {family!r} has no data as of {as_of} in the published files "
                "(its dbt model is not built yet, or that date has only RFM history)."
            )
        selects = {family: selects[family]}
    segments = available_segments(con, selects, as_of)
    found = match_segment(name, segments)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        options = "; ".join(f'--family {s.family} ("{s.label}")' for s in found)
        raise ExportError(f"segment {name!r} exists in several families as of {as_of}: {options}")
    listing = "\n".join(f"  {s.family:<24} {s.label}  ({s.members:,})" for s in segments)
    raise ExportError(
        f"no segment {name!r}{f' in family {family}' if family else ''} with members as of "
        f"{as_of}. Segments with members then:\n{listing or '  (none)'}"
    )
