"""A failed GX expectation in words: the metric and its observed value, how many rows of the
batch break it, the landed file(s) they came from and up to three example rows.

GX validates aggregate profiles (gx_checks.py), so a failure says "null_share(email) = 0.83"
but not which rows. Only when a check fails, the rows behind the metric are looked up in
DuckDB (the batch of a raw table, or the whole mart):

| metric | the rows shown |
| --- | --- |
| `null_share(col [where w])`, `null_share_change(col)` | `col` is null (and `w` is not) |
| `min(col)` / `max(col)` | below the minimum / above the maximum the suite allows |
| `rows_where(a op b)` | `a op b` |
| `duplicates(a, ...)` | rows whose key appears more than once |
| `share(col=value)` | `col` is the value |
| `max_share(col)` | `col` is its most common value |
| `mean(col)`, `mean_vs_baseline(col)` | the batch's largest (or smallest) values of `col` |
| anything else (`rows_vs_baseline`, `share_shift`, ...) | every batch row, by file |

Raw rows carry `_source_file` / `_source_line`, so the files and lines are named; a mart's
rows are computed, so it has examples but no file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from pipelines.lib import gx
from pipelines.lib.duck import quote_ident, sql_str
from pipelines.lib.gate_report import MAX_EXAMPLES, GateFailure, files_phrase, format_row, plural
from pipelines.lib.profile import MetricError, parse_metric

MAX_EXPLAINED = 5  # failed expectations explained per check; the rest are counted


def _number(value: Any) -> str:
    """An observed value as a person reads it: 0.2714 rather than 0.27138391338437373."""
    if value is None:
        return "?"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}"


def _bounds(suite_path, metric: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """min_value / max_value / strict_* of the suite's expectation on `metric`, parameters
    resolved."""
    for exp in gx.read_suite_json(suite_path).get("expectations", []):
        kwargs = exp.get("kwargs", {})
        if kwargs.get("column") == metric:
            out = {}
            for key in ("min_value", "max_value", "strict_min", "strict_max"):
                value = kwargs.get(key)
                if isinstance(value, dict) and "$PARAMETER" in value:
                    value = parameters.get(value["$PARAMETER"])
                out[key] = value
            return out
    return {}


def _literal(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return repr(value)
    return f"{sql_str(str(value))}::TIMESTAMP" if hasattr(value, "isoformat") else None


def offending(
    metric_text: str, relation: str, batch_where: str, bounds: Mapping[str, Any], observed: Any
) -> tuple[str | None, bool, str]:
    """(predicate selecting the offending rows or None for "every batch row", whether the
    predicate repeats `batch_where` (a subquery: its parameters again), ORDER BY)."""
    try:
        metric = parse_metric(metric_text)
    except MetricError:
        return None, False, ""
    cols = [quote_ident(c) for c in metric.columns]
    name = metric.name
    if name in ("null_share", "null_share_change") and cols:
        pred = f"{cols[0]} IS NULL"
        if metric.where:
            pred = f"{quote_ident(metric.where)} IS NOT NULL AND {pred}"
        return pred, False, ""
    if name == "min" and (low := _literal(bounds.get("min_value"))) is not None:
        op = "<=" if bounds.get("strict_min") else "<"
        return f"{cols[0]} {op} {low}", False, f"{cols[0]} ASC"
    if name == "max" and (high := _literal(bounds.get("max_value"))) is not None:
        op = ">=" if bounds.get("strict_max") else ">"
        return f"{cols[0]} {op} {high}", False, f"{cols[0]} DESC"
    if name == "rows_where" and len(cols) == 2:
        return f"{cols[0]} {metric.value} {cols[1]}", False, ""
    if name == "duplicates" and cols:
        key = ", ".join(cols)
        return (
            f"({key}) IN (SELECT {key} FROM {relation} WHERE {batch_where} "
            f"GROUP BY ALL HAVING count(*) > 1)",
            True,
            key,
        )
    if name == "share" and cols:
        return f"CAST({cols[0]} AS VARCHAR) = {sql_str(metric.value or '')}", False, ""
    if name == "max_share" and cols:
        return (
            f"{cols[0]} = (SELECT {cols[0]} FROM {relation} WHERE {batch_where} "
            f"AND {cols[0]} IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)",
            True,
            "",
        )
    if name in ("mean", "mean_vs_baseline") and cols:
        low = bounds.get("min_value")
        too_low = isinstance(observed, int | float) and isinstance(low, int | float)
        too_low = too_low and observed < low
        return None, False, f"{cols[0]} {'ASC' if too_low else 'DESC'} NULLS LAST"
    return None, False, ""


def explain_failures(
    con: duckdb.DuckDBPyConnection,
    *,
    relation: str,
    batch_where: str,
    batch_params: list,
    suite_path,
    parameters: Mapping[str, Any],
    failed: tuple[gx.FailedExpectation, ...],
    batch_label: str,
) -> list[GateFailure]:
    """One GateFailure per failed expectation (the first MAX_EXPLAINED)."""
    columns = [d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]
    lineage = "_source_file" in columns
    line = "min(_source_line)" if "_source_line" in columns else "NULL"
    total = con.execute(
        f"SELECT count(*) FROM {relation} WHERE {batch_where}", batch_params
    ).fetchone()[0]
    out: list[GateFailure] = []
    for f in failed[:MAX_EXPLAINED]:
        metric = f.column or "table"
        subject = f"{metric} = {_number(f.observed_value)}"
        subject += f", expected {f.expected or '?'}" + (
            f" ({f.description})" if f.description else ""
        )
        if f.error:
            out.append(GateFailure(subject, f"could not be evaluated: {f.error}"))
            continue
        bounds = _bounds(suite_path, metric, parameters)
        pred, again, order = offending(metric, relation, batch_where, bounds, f.observed_value)
        where = f"({batch_where})" + (f" AND ({pred})" if pred else "")
        params = [*batch_params, *(batch_params if again else [])]
        if lineage:
            order = ", ".join(p for p in (order, "_source_file, _source_line") if p)
        try:
            n = con.execute(f"SELECT count(*) FROM {relation} WHERE {where}", params)
            n = n.fetchone()[0]
            examples = con.execute(
                f"SELECT * FROM {relation} WHERE {where} "
                f"{'ORDER BY ' + order if order else ''} LIMIT {MAX_EXAMPLES}",
                params,
            ).fetchall()
            files = (
                con.execute(
                    f"SELECT _source_file, count(*), {line} FROM {relation} WHERE {where} "
                    "GROUP BY 1 ORDER BY 2 DESC, 1",
                    params,
                ).fetchall()
                if lineage
                else []
            )
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            out.append(GateFailure(subject, f"its rows could not be looked up ({first})"))
            continue
        rows = (
            f"{plural(n, 'row')} of {total:,} in {batch_label} {'breaks' if n == 1 else 'break'} it"
            if pred
            else f"{plural(n, 'row')} in {batch_label}"
        )
        detail = rows + (f"; {files_phrase(files)}" if files else "")
        if f.action:
            detail += f"; {f.action}"
        elif files:
            detail += (
                "; fix the file(s) and land them again, or retract them with `segments unload FILE`"
            )
        out.append(GateFailure(subject, detail, tuple(format_row(columns, r) for r in examples)))
    if len(failed) > MAX_EXPLAINED:
        out.append(GateFailure(f"and {len(failed) - MAX_EXPLAINED} more", "see the check"))
    return out
