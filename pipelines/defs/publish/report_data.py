"""What the HTML report shows, as small aggregates computed in DuckDB SQL.

Every number is an aggregate over the published file (`pub`: what BI sees) or, for what BI
does not get, the audited companion file under its build names (`build`: recent
transactions, RFM history, quarantine counts, load manifest; see audited.py). Results are a
few hundred rows at most whatever the warehouse size, so the report costs seconds on a
ten-million-transaction warehouse.

A table that a build does not have yet (segment_profiles before the dbt model lands, say)
gives `None` and the report says "not available yet" instead of failing the publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb

from pipelines.defs.publish import rule_warnings
from pipelines.defs.publish.families import FAMILIES
from pipelines.lib.duck import sql_str

NO_SEGMENT = "(no purchase in lookback)"  # customers RFM does not score
OUTSIDE = "(not in snapshot)"  # migration: customers new to, or gone from, a snapshot


@dataclass(frozen=True)
class SegmentSize:
    label: str
    customers: int
    revenue: float  # net revenue in the RFM lookback window (`monetary`)
    description: str = ""
    suggested_action: str = ""


@dataclass(frozen=True)
class Kpi:
    name: str
    this_week: float
    previous_week: float
    is_money: bool = False


@dataclass(frozen=True)
class Weekly:
    this_start: date
    this_end: date
    previous_start: date
    previous_end: date
    kpis: tuple[Kpi, ...]


@dataclass(frozen=True)
class Migration:
    """RFM segment of each customer in the older snapshot (rows) vs the newer (columns)."""

    from_date: date
    to_date: date
    labels: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    @property
    def moved(self) -> int:
        return sum(n for (a, b), n in self.counts.items() if a != b)


@dataclass(frozen=True)
class History:
    """Customers per RFM segment per snapshot date."""

    source: str
    dates: tuple[date, ...]
    series: dict[str, dict[date, int]]


@dataclass(frozen=True)
class TableData:
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    note: str = ""


@dataclass(frozen=True)
class FamilySizes:
    title: str
    sizes: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SectionData:
    """Everything the report renders except the data-quality summary."""

    as_of: date
    segments: tuple[SegmentSize, ...]
    grid: dict[tuple[int, int], tuple[int, str]]  # (r, fm) → customers, segment label
    weekly: Weekly | None
    migration: Migration | None
    history: History | None
    profiles: TableData | None
    families: tuple[FamilySizes, ...]
    missing_families: tuple[str, ...]
    dynamic: tuple[tuple[str, int], ...] | None
    missing: dict[str, str] = field(default_factory=dict)  # section → why it is not there
    rule_warnings: tuple[str, ...] = ()  # what the rules imply (rule_warnings.py)


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """`catalog.schema.table` → columns in order, for every attached database."""
    rows = con.execute(
        "select table_catalog || '.' || table_schema || '.' || table_name, column_name "
        "from information_schema.columns "
        "order by table_catalog, table_schema, table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def segment_sizes(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]
) -> list[SegmentSize]:
    """Customers and lookback revenue per RFM segment, in the seed's segment order."""
    definitions = "pub.main.rfm_segment_definitions"
    has_defs = definitions in tables
    join = (
        f"left join {definitions} d on d.rfm_segment = s.rfm_segment"
        if has_defs
        else "left join (select null::varchar as rfm_segment, null::int as segment_order, "
        "null::varchar as description, null::varchar as suggested_action) d on false"
    )
    # Unscored customers last; segments in the seed's order, else by size.
    rows = con.execute(
        f"""
        select coalesce(s.rfm_segment, {sql_str(NO_SEGMENT)}) as label, count(*) as customers,
               coalesce(sum(s.monetary), 0)::double as revenue,
               coalesce(any_value(d.description), ''), coalesce(any_value(d.suggested_action), '')
        from pub.main.customer_segments s {join}
        group by all
        order by min(case when s.rfm_segment is null then 999
                          else coalesce(d.segment_order, 99) end),
                 customers desc
        """
    ).fetchall()
    return [SegmentSize(*row) for row in rows]


def rfm_grid(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]
) -> dict[tuple[int, int], tuple[int, str]]:
    """(R, FM) → customers in that cell and the segment the cell maps to (all 25 cells when
    the segment map seed is there, so an empty cell still shows its segment)."""
    cells = {
        (r, fm): (n, label)
        for r, fm, n, label in con.execute(
            "select r_score, fm_score, count(*), any_value(rfm_segment) "
            "from pub.main.customer_segments where r_score is not null group by all"
        ).fetchall()
    }
    if "build.seeds.rfm_segment_map" in tables:
        for r, fm, label in con.execute(
            "select r_score, fm_score, rfm_segment from build.seeds.rfm_segment_map"
        ).fetchall():
            cells.setdefault((r, fm), (0, label))
    return cells


def weekly_summary(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]], as_of: date
) -> Weekly | None:
    """The seven days ending at the as-of date against the seven before: revenue, orders,
    buyers, new customers (first order in the week), AOV and refunds."""
    fct = "build.marts.fct_transactions"
    if fct not in tables:
        return None
    this_start, prev_start = as_of - timedelta(days=6), as_of - timedelta(days=13)
    rows = dict(
        (week, rest)
        for week, *rest in con.execute(
            f"""
            select case when transaction_date >= $this_start then 'this' else 'previous' end,
                   coalesce(sum(net_amount), 0)::double,
                   count(*) filter (where is_purchase),
                   count(distinct customer_key) filter (where is_purchase),
                   coalesce(sum(refunded_amount), 0)::double
            from {fct}
            where transaction_date between $prev_start and $as_of
            group by 1
            """,
            {"this_start": this_start, "prev_start": prev_start, "as_of": as_of},
        ).fetchall()
    )
    this, prev = rows.get("this", [0.0, 0, 0, 0.0]), rows.get("previous", [0.0, 0, 0, 0.0])
    new_this = new_prev = 0
    facts = "build.marts.customer_facts"
    if facts in tables and "first_order_date" in tables[facts]:
        new_this, new_prev = con.execute(
            f"""
            select count(*) filter (where first_order_date >= $this_start),
                   count(*) filter (where first_order_date < $this_start)
            from {facts}
            where as_of_date = $as_of and first_order_date between $prev_start and $as_of
            """,
            {"this_start": this_start, "prev_start": prev_start, "as_of": as_of},
        ).fetchone()

    def aov(week: list) -> float:
        return week[0] / week[1] if week[1] else 0.0

    kpis = (
        Kpi("Net revenue", this[0], prev[0], is_money=True),
        Kpi("Orders", this[1], prev[1]),
        Kpi("Buying customers", this[2], prev[2]),
        Kpi("New customers", new_this, new_prev),
        Kpi("Average order value", aov(this), aov(prev), is_money=True),
        Kpi("Refunded", this[3], prev[3], is_money=True),
    )
    return Weekly(this_start, as_of, prev_start, this_start - timedelta(days=1), kpis)


def history_source(tables: dict[str, list[str]]) -> str | None:
    """The table with each customer's RFM segment per as-of date: the published snapshots
    (under their own name or their build name); None before the snapshot history exists."""
    for name in ("pub.main.segment_snapshots", "build.marts.segment_snapshots"):
        if name in tables and {"as_of_date", "customer_key", "rfm_segment"} <= set(tables[name]):
            return name
    return None


def segment_history(
    con: duckdb.DuckDBPyConnection, source: str, as_of: date, order: list[str]
) -> History:
    """Customers per RFM segment per snapshot date up to `as_of`; series in `order`."""
    rows = con.execute(
        f"select as_of_date, rfm_segment, count(*) from {source} "
        "where as_of_date <= ? and rfm_segment is not null group by all order by 1",
        [as_of],
    ).fetchall()
    series: dict[str, dict[date, int]] = {label: {} for label in order if label != NO_SEGMENT}
    for day, label, n in rows:
        series.setdefault(label, {})[day] = n
    series = {label: points for label, points in series.items() if points}
    return History(source, tuple(sorted({r[0] for r in rows})), series)


def migration(
    con: duckdb.DuckDBPyConnection, source: str, history: History, order: list[str]
) -> Migration | None:
    """RFM segment moves between the last two snapshots, labels in `order` (then any
    others); None with fewer than two snapshots."""
    if len(history.dates) < 2:
        return None
    older, newer = history.dates[-2], history.dates[-1]
    rows = con.execute(
        f"""
        with a as (select customer_key, rfm_segment from {source} where as_of_date = $older),
             b as (select customer_key, rfm_segment from {source} where as_of_date = $newer)
        select coalesce(a.rfm_segment, $outside), coalesce(b.rfm_segment, $outside), count(*)
        from a full outer join b using (customer_key)
        where a.rfm_segment is not null or b.rfm_segment is not null
        group by all
        """,
        {"older": older, "newer": newer, "outside": OUTSIDE},
    ).fetchall()
    counts = {(a, b): n for a, b, n in rows}
    ordered = [s for s in order if any(s in k for k in counts)]
    ordered += sorted({s for k in counts for s in k} - set(ordered) - {OUTSIDE})
    if any(OUTSIDE in k for k in counts):
        ordered.append(OUTSIDE)
    return Migration(older, newer, tuple(ordered), counts)


def profiles(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]], as_of: date
) -> TableData | None:
    """segment_profiles for the as-of date, every column as published (no guessing names)."""
    name = "pub.main.segment_profiles"
    if name not in tables:
        return None
    columns = tables[name]
    where = "where as_of_date = ?" if "as_of_date" in columns else ""
    shown = [c for c in columns if c != "as_of_date"]
    select = ", ".join(f'"{c}"' for c in shown)
    rows = con.execute(
        f"select {select} from {name} {where} order by all", [as_of] if where else []
    ).fetchall()
    return TableData(tuple(shown), tuple(rows))


def family_sizes(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]
) -> tuple[list[FamilySizes], list[str]]:
    """Customers per label of every non-RFM family on customer_segments; and the titles of
    families whose column is not there yet."""
    columns = set(tables["pub.main.customer_segments"])
    found, missing = [], []
    for fam in FAMILIES:
        if fam.name == "rfm":
            continue
        if fam.column not in columns:
            missing.append(fam.title)
            continue
        rows = con.execute(
            f"select {fam.label_sql('s')} as label, count(*) from pub.main.customer_segments s "
            "group by 1 having label is not null order by 2 desc, 1"
        ).fetchall()
        found.append(FamilySizes(fam.title, tuple(rows)))
    return found, missing


def dynamic_sizes(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]], as_of: date
) -> tuple[tuple[str, int], ...] | None:
    name = "pub.main.dynamic_segment_members"
    if name not in tables:
        return None
    return tuple(
        con.execute(
            f"select segment_name, count(*) from {name} where as_of_date = ? "
            "group by 1 order by 2 desc, 1",
            [as_of],
        ).fetchall()
    )


def collect(con: duckdb.DuckDBPyConnection) -> SectionData:
    """Every section's data from a session with `pub` (published) and `build` attached."""
    tables = table_columns(con)
    if "pub.main.customer_segments" not in tables:
        raise ValueError("the published file has no customer_segments table: publish first")
    as_of = con.execute("select max(as_of_date) from pub.main.customer_segments").fetchone()[0]
    if as_of is None:
        raise ValueError("published customer_segments is empty: nothing to report")
    missing: dict[str, str] = {}
    segments = segment_sizes(con, tables)
    order = [s.label for s in segments]
    source = history_source(tables)
    history = segment_history(con, source, as_of, order) if source else None
    moves = migration(con, source, history, order) if source and history else None
    if history is None:
        missing["history"] = "no segment snapshots in the published files"
    elif moves is None:
        missing["migration"] = (
            f"only {len(history.dates)} snapshot(s) so far; a second run or a backfill adds one"
        )
    weekly = weekly_summary(con, tables, as_of)
    if weekly is None:
        missing["weekly"] = "marts.fct_transactions is not published (audited.duckdb)"
    profile_table = profiles(con, tables, as_of)
    if profile_table is None:
        missing["profiles"] = "segment_profiles is not published yet"
    families, missing_families = family_sizes(con, tables)
    dynamic = dynamic_sizes(con, tables, as_of)
    warnings = rule_warnings.warning_lines(
        rule_warnings.recency_contradictions(con, "pub.main.customer_segments")
    )
    if dynamic is None:
        missing["dynamic"] = "dynamic_segment_members is not published yet"
    return SectionData(
        as_of=as_of,
        segments=tuple(segments),
        grid=rfm_grid(con, tables),
        weekly=weekly,
        migration=moves,
        history=history,
        profiles=profile_table,
        families=tuple(families),
        missing_families=tuple(missing_families),
        dynamic=dynamic,
        missing=missing,
        rule_warnings=tuple(warnings),
    )
