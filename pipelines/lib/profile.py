"""Aggregate profiles of a table, computed in DuckDB: what the GX suites validate.

A suite in `expectations/` does not look at rows. Each of its expectations names a *metric*
in its `column` kwarg, e.g. `"column": "null_share(email)"`; this module computes every
metric a suite names with a few aggregate queries over the batch (and its baseline) and
returns them as a one-row pandas frame, one column per metric. GX then validates that frame
(`pipelines/lib/gx.py`), so the cost is a handful of DuckDB scans whatever the row count,
and nothing row-sized ever reaches pandas.

Metrics (`col`, `a`, `b` are column names of the table; spaces are optional):

| metric | value |
| --- | --- |
| `rows` | rows in the batch |
| `rows_vs_baseline` | batch rows / median rows per baseline load (null without a baseline) |
| `rows_per_day_vs_baseline` | batch rows per day of data / baseline rows per (load, day): |
|  | volume that a backfill or a catch-up of several days does not distort |
| `columns_missing(a, b, ...)` | how many of the listed columns the table lacks |
| `null_share(col)` | share of batch rows where `col` is NULL (0..1; null on an empty batch) |
| `null_share(col where other)` | the same among rows where `other` is not NULL |
| `null_share_change(col)` | batch null share minus baseline null share (-1..1) |
| `distinct(col)` | distinct non-null values of `col` in the batch |
| `duplicates(a, b, ...)` | batch rows minus distinct (a, b, ...) combinations |
| `min(col)` `max(col)` `mean(col)` | over the batch's non-null values |
| `mean_vs_baseline(col)` | batch mean / baseline mean |
| `rows_where(a < b)` | batch rows where `a < b` (also `<=`, `>`, `>=`, `=`, `<>`; NULL: no) |
| `share(col=value)` | share of batch rows whose `col` equals `value` (compared as text) |
| `max_share(col)` | the largest share one value of `col` has among non-null rows |
| `share_shift(col)` | total-variation distance of the batch's and the baseline's value mix |
|  | of `col`: 0 = the same mix, 1 = no value in common |

A metric over a column the table lacks is NULL (GX's range rules pass on NULL): pair such
rules with `columns_missing(...)`, which fails instead. Baseline metrics are NULL when there
is no baseline (the first load, or a mart published for the first time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.lib.duck import quote_ident

_METRIC = re.compile(r"^\s*(?P<name>[a-z_]+)\s*(?:\((?P<args>.*)\))?\s*$", re.S)

SCALAR_METRICS = frozenset({"null_share", "distinct", "min", "max", "mean"})
BASELINE_METRICS = frozenset(
    {
        "rows_vs_baseline",
        "rows_per_day_vs_baseline",
        "null_share_change",
        "mean_vs_baseline",
        "share_shift",
    }
)
KNOWN_METRICS = frozenset(
    {
        "rows",
        "columns_missing",
        "duplicates",
        "share",
        "max_share",
        "rows_where",
        *SCALAR_METRICS,
        *BASELINE_METRICS,
    }
)
NO_ARGS = frozenset({"rows", "rows_vs_baseline", "rows_per_day_vs_baseline"})
_COMPARISON = re.compile(
    r"^\s*(?P<a>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|<>|<|>|=)\s*(?P<b>[A-Za-z_][A-Za-z0-9_]*)\s*$"
)


class MetricError(ValueError):
    """A metric name a suite uses cannot be parsed; the message says which and why."""


@dataclass(frozen=True)
class Metric:
    """One parsed metric name: `text` is exactly what the suite wrote (the frame column)."""

    text: str
    name: str
    columns: tuple[str, ...] = ()
    where: str | None = None  # null_share(col where other)
    value: str | None = None  # share(col=value); the operator of rows_where(a op b)


def parse_metric(text: str) -> Metric:
    """`null_share(email)` → Metric(name='null_share', columns=('email',)); MetricError if
    the name is unknown or its arguments do not fit."""
    m = _METRIC.match(text)
    if not m or m["name"] not in KNOWN_METRICS:
        raise MetricError(
            f"{text!r} is not a metric; use one of {', '.join(sorted(KNOWN_METRICS))} "
            "(see pipelines/lib/profile.py)"
        )
    name, args = m["name"], (m["args"] or "").strip()
    if name in NO_ARGS:
        if args:
            raise MetricError(f"{text!r}: {name} takes no column")
        return Metric(text, name)
    if not args:
        raise MetricError(f"{text!r}: {name} needs a column, e.g. {name}(email)")
    if name == "share":
        column, eq, value = args.partition("=")
        if not eq:
            raise MetricError(f"{text!r}: write share(column=value)")
        return Metric(text, name, (column.strip(),), value=value.strip())
    if name == "rows_where":
        cmp = _COMPARISON.match(args)
        if not cmp:
            raise MetricError(
                f"{text!r}: write rows_where(column op column) with op one of <, <=, >, >=, =, <>"
            )
        return Metric(text, name, (cmp["a"], cmp["b"]), value=cmp["op"])
    if name == "null_share" and " where " in f" {args} ":
        column, _, where = args.partition(" where ")
        return Metric(text, name, (column.strip(),), where=where.strip())
    columns = tuple(c.strip() for c in args.split(","))
    if len(columns) > 1 and name not in ("columns_missing", "duplicates"):
        raise MetricError(f"{text!r}: {name} takes one column")
    return Metric(text, name, columns)


@dataclass(frozen=True)
class Scope:
    """Where the batch and its baseline are.

    `batch`: SQL predicate over `relation` selecting the batch. `baseline_relation` /
    `baseline`: where the baseline rows are (None: no baseline). `baseline_group`: the column
    that tells baseline loads apart for `rows_vs_baseline` (e.g. `_loaded_at`; None: the
    baseline is one load).
    """

    relation: str
    columns: Sequence[str]  # the table's columns (from information_schema)
    batch: str = "true"
    params: Sequence[Any] = ()
    baseline_relation: str | None = None
    baseline_columns: Sequence[str] = ()
    baseline: str = "true"
    baseline_params: Sequence[Any] = ()
    baseline_group: str | None = None
    day_column: str | None = None  # the day a row belongs to (rows_per_day_vs_baseline)


def _q(column: str) -> str:
    return quote_ident(column)


def _scalar_sql(metric: Metric) -> str:
    col = _q(metric.columns[0])
    if metric.name == "null_share":
        if metric.where is not None:
            cond = f"{_q(metric.where)} IS NOT NULL"
            return (
                f"(count(*) FILTER (WHERE {cond} AND {col} IS NULL))::DOUBLE"
                f" / nullif(count(*) FILTER (WHERE {cond}), 0)"
            )
        return f"(count(*) FILTER (WHERE {col} IS NULL))::DOUBLE / nullif(count(*), 0)"
    if metric.name == "distinct":
        return f"count(DISTINCT {col})"
    if metric.name == "mean":
        return f"avg({col})::DOUBLE"
    return f"{metric.name}({col})"  # min, max


def _has(columns: Iterable[str], metric: Metric) -> bool:
    known = set(columns)
    return all(c in known for c in metric.columns) and (
        metric.where is None or metric.where in known
    )


def compute_profile(
    con: duckdb.DuckDBPyConnection, scope: Scope, metrics: Iterable[str]
) -> dict[str, Any]:
    """Metric text → value for every metric named (see module docstring).

    One scan of the batch computes every scalar metric; one scan of the baseline the
    baseline ones; each distribution metric (`share_shift`, `max_share`) is one group-by.
    """
    parsed = {text: parse_metric(text) for text in dict.fromkeys(metrics)}
    out: dict[str, Any] = {}
    batch_where = f"({scope.batch})"
    baseline_rel = scope.baseline_relation

    # Batch scalars (and the row count every metric shares), one query.
    selects = ["count(*)"]
    scalar_keys: list[str] = []
    for text, m in parsed.items():
        if m.name == "columns_missing":
            out[text] = sum(1 for c in m.columns if c not in set(scope.columns))
        elif m.name in SCALAR_METRICS or m.name in ("null_share_change", "mean_vs_baseline"):
            if _has(scope.columns, m):
                base = Metric(
                    m.text,
                    {"null_share_change": "null_share", "mean_vs_baseline": "mean"}.get(
                        m.name, m.name
                    ),
                    m.columns,
                    m.where,
                )
                selects.append(_scalar_sql(base))
                scalar_keys.append(text)
            else:
                out[text] = None
        elif m.name == "share":
            if _has(scope.columns, m):
                selects.append(
                    f"(count(*) FILTER (WHERE {_q(m.columns[0])}::VARCHAR = ?))::DOUBLE"
                    " / nullif(count(*), 0)"
                )
                scalar_keys.append(text)
            else:
                out[text] = None
        elif m.name == "rows_where":
            if _has(scope.columns, m):
                a, b = (_q(c) for c in m.columns)
                selects.append(f"count(*) FILTER (WHERE {a} {m.value} {b})")
                scalar_keys.append(text)
            else:
                out[text] = None
        elif m.name == "duplicates":
            if _has(scope.columns, m):
                key = ", ".join(_q(c) for c in m.columns)
                selects.append(f"count(*) - count(DISTINCT ({key}))")
                scalar_keys.append(text)
            else:
                out[text] = None
    share_params = [parsed[k].value for k in scalar_keys if parsed[k].name == "share"]
    row = con.execute(
        f"SELECT {', '.join(selects)} FROM {scope.relation} WHERE {batch_where}",
        [*share_params, *scope.params] if share_params else list(scope.params),
    ).fetchone()
    # Parameters bind in text order: the share values come first in the SELECT list.
    batch_rows = int(row[0])
    batch_values = dict(zip(scalar_keys, row[1:], strict=True))
    for text in parsed:
        if parsed[text].name == "rows":
            out[text] = batch_rows
    for text, value in batch_values.items():
        if parsed[text].name not in ("null_share_change", "mean_vs_baseline"):
            out[text] = _plain(value)

    # Baseline: the same scalars over the baseline rows, and the volume per load.
    has_baseline = baseline_rel is not None and _baseline_rows(con, scope) > 0
    for text, m in parsed.items():
        if m.name in BASELINE_METRICS:
            out.setdefault(text, None)
    if has_baseline:
        assert baseline_rel is not None
        wanted = [
            (text, m)
            for text, m in parsed.items()
            if m.name in ("null_share_change", "mean_vs_baseline")
            and _has(scope.baseline_columns, m)
            and text in batch_values
        ]
        if wanted:
            base_selects = [
                _scalar_sql(
                    Metric(
                        m.text,
                        "null_share" if m.name == "null_share_change" else "mean",
                        m.columns,
                        m.where,
                    )
                )
                for _, m in wanted
            ]
            base_row = con.execute(
                f"SELECT {', '.join(base_selects)} FROM {baseline_rel} WHERE ({scope.baseline})",
                list(scope.baseline_params),
            ).fetchone()
            for (text, m), base in zip(wanted, base_row, strict=True):
                now = batch_values[text]
                if now is None or base is None:
                    out[text] = None
                elif m.name == "null_share_change":
                    out[text] = float(now) - float(base)
                else:
                    out[text] = float(now) / float(base) if float(base) != 0 else None
        for text, m in parsed.items():
            if m.name == "rows_vs_baseline":
                per_load = _baseline_rows_per_load(con, scope)
                out[text] = batch_rows / per_load if per_load else None
            elif m.name == "rows_per_day_vs_baseline" and scope.day_column and batch_rows:
                out[text] = _per_day_ratio(con, scope)
            elif m.name == "share_shift" and _has(scope.columns, m):
                if _has(scope.baseline_columns, m) and batch_rows:
                    out[text] = _share_shift(con, scope, m.columns[0])

    for text, m in parsed.items():
        if m.name == "max_share":
            out[text] = _max_share(con, scope, m.columns[0]) if _has(scope.columns, m) else None
    return out


def _plain(value: Any) -> Any:
    """DuckDB's Decimal → float and DATE → midnight datetime, so GX compares like with like
    (suite parameters such as `tomorrow_utc` are datetimes)."""
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time())
    return value


def _baseline_rows(con: duckdb.DuckDBPyConnection, scope: Scope) -> int:
    return con.execute(
        f"SELECT count(*) FROM {scope.baseline_relation} WHERE ({scope.baseline})",
        list(scope.baseline_params),
    ).fetchone()[0]


def _baseline_rows_per_load(con: duckdb.DuckDBPyConnection, scope: Scope) -> float | None:
    if scope.baseline_group is None:
        return float(_baseline_rows(con, scope)) or None
    value = con.execute(
        f"SELECT median(n) FROM (SELECT count(*) AS n FROM {scope.baseline_relation} "
        f"WHERE ({scope.baseline}) GROUP BY {_q(scope.baseline_group)})",
        list(scope.baseline_params),
    ).fetchone()[0]
    return float(value) if value else None


def _per_day_ratio(con: duckdb.DuckDBPyConnection, scope: Scope) -> float | None:
    day = _q(scope.day_column or "")
    group = f"{_q(scope.baseline_group)}, " if scope.baseline_group else ""
    batch = con.execute(
        f"SELECT count(*)::DOUBLE / nullif(count(DISTINCT {day}), 0) FROM {scope.relation} "
        f"WHERE ({scope.batch})",
        list(scope.params),
    ).fetchone()[0]
    base = con.execute(
        f"SELECT count(*)::DOUBLE / nullif(count(DISTINCT ({group}{day})), 0) "
        f"FROM {scope.baseline_relation} WHERE ({scope.baseline})",
        list(scope.baseline_params),
    ).fetchone()[0]
    return batch / base if batch is not None and base else None


def _share_shift(con: duckdb.DuckDBPyConnection, scope: Scope, column: str) -> float | None:
    col = _q(column)
    value = con.execute(
        f"""
        WITH b AS (
            SELECT {col}::VARCHAR AS v, count(*) / sum(count(*)) OVER () AS s
            FROM {scope.relation} WHERE ({scope.batch}) GROUP BY 1
        ),
        p AS (
            SELECT {col}::VARCHAR AS v, count(*) / sum(count(*)) OVER () AS s
            FROM {scope.baseline_relation} WHERE ({scope.baseline}) GROUP BY 1
        )
        SELECT 0.5 * sum(abs(coalesce(b.s, 0) - coalesce(p.s, 0)))
        FROM b FULL JOIN p ON b.v IS NOT DISTINCT FROM p.v
        """,
        [*scope.params, *scope.baseline_params],
    ).fetchone()[0]
    return None if value is None else float(value)


def _max_share(con: duckdb.DuckDBPyConnection, scope: Scope, column: str) -> float | None:
    col = _q(column)
    value = con.execute(
        f"SELECT max(n)::DOUBLE / nullif(sum(n), 0) FROM (SELECT count(*) AS n "
        f"FROM {scope.relation} WHERE ({scope.batch}) AND {col} IS NOT NULL GROUP BY {col})",
        list(scope.params),
    ).fetchone()[0]
    return None if value is None else float(value)


def profile_frame(values: Mapping[str, Any]):
    """The one-row pandas frame GX validates: one column per metric."""
    import pandas as pd

    return pd.DataFrame([{k: _plain(v) for k, v in values.items()}])
