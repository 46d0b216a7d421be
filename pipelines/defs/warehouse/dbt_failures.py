"""What a failed `dbt build` found, in words: each failing test with its count of rows, the
landed file(s) the rows came from and up to three example rows; each model that errored.

Read after dbt has exited (DuckDB allows one process on build.duckdb): dbt's
`run_results.json` gives each failing test's compiled SQL and failure count, the manifest its
model and column; the rows are re-queried with a limit from build.duckdb, read-only.

Where the rows come from: a failing row that carries the raw tables' lineage columns
(`_source_file`, `_source_line`; every staging model keeps them, docs/raw_tables.md) names its
file and line itself. A generic test (unique, accepted_values, relationships,
unique_combination_of_columns) returns the offending values, not rows: they are looked up in
the tested model, which names the files when it has the lineage columns. A test on a model
without lineage (an intermediate table or a mart) names the test's SQL file instead. A test
may say what to do about a failure in its config: `meta={'fix': '...'}`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.gate_report import (
    MAX_EXAMPLES,
    GateFailure,
    files_phrase,
    format_row,
    plural,
)

FAILED = ("fail", "warn", "error")
# DuckDB's error when a query needs more than its memory limit and cannot spill the rest
OUT_OF_MEMORY = "Out of Memory Error"
OUT_OF_MEMORY_FIX = (
    "DuckDB reached its memory limit (SEGMENTS_DUCKDB_MEMORY_LIMIT, default 2GB): raise it "
    "if the machine has the memory (e.g. SEGMENTS_DUCKDB_MEMORY_LIMIT=4GB), or compute the "
    "history in smaller batches (SEGMENTS_AS_OF_BATCH_ROWS, default 10000000, e.g. 5000000), "
    "then run again; the models already built are kept"
)
# The column generic tests name the offending value in (dbt's own test macros).
VALUE_COLUMNS = ("unique_field", "value_field", "from_field")


@dataclass(frozen=True)
class DbtProblem:
    unique_id: str
    status: str  # fail | warn | error
    is_test: bool
    failure: GateFailure

    @property
    def blocking(self) -> bool:
        return self.status in ("fail", "error")


def _first_line(message: str | None) -> str:
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    return lines[0] if lines else "failed"


def _asset_label(node: Mapping[str, Any] | None) -> str:
    if not node:
        return "?"
    schema = node.get("config", {}).get("schema") or node.get("schema") or "main"
    return f"{schema}/{node.get('name')}"


def _attached_model(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict | None:
    nodes = manifest.get("nodes", {})
    if test.get("attached_node"):
        return nodes.get(test["attached_node"])
    ref = (test.get("config", {}).get("meta") or test.get("meta") or {}).get("dagster", {})
    if name := ref.get("ref", {}).get("name"):
        return next((n for n in nodes.values() if n.get("name") == name), None)
    models = [n for n in test.get("depends_on", {}).get("nodes", []) if n.startswith("model.")]
    return nodes.get(models[0]) if len(models) == 1 else None


def _tested_columns(test: Mapping[str, Any]) -> list[str]:
    kwargs = (test.get("test_metadata") or {}).get("kwargs") or {}
    if combo := kwargs.get("combination_of_columns"):
        return [str(c) for c in combo]
    if column := kwargs.get("column_name") or test.get("column_name"):
        return [str(column)]
    return []


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0] for d in con.execute(f"select * from ({sql}) as q limit 0").description]


def _rows_sql(
    con: duckdb.DuckDBPyConnection, compiled: str, test: Mapping, model: Mapping | None
) -> tuple[str, list[str], str]:
    """SQL of the rows to show (the failing rows, or the model rows holding the failing
    values), its columns, and the ORDER BY that puts a file's rows together."""
    cols = _columns(con, compiled)
    if "_source_file" in cols:
        return compiled, cols, "_source_file, _source_line"
    keys = _tested_columns(test)
    relation = (model or {}).get("relation_name")
    if keys and relation:
        model_cols = _columns(con, f"select * from {relation}")
        if "_source_file" in model_cols:
            if all(k in cols for k in keys):
                failing = keys
            elif len(keys) == 1 and (found := [c for c in VALUE_COLUMNS if c in cols]):
                failing = found[:1]
            elif len(keys) == 1:
                failing = cols[:1]
            else:
                failing = []
            if failing:
                lhs = ", ".join(f"m.{k}" for k in keys)
                sql = (
                    f"select m.* from {relation} as m where ({lhs}) in "
                    f"(select {', '.join(failing)} from ({compiled}) as f)"
                )
                order = ", ".join(keys) + ", _source_file, _source_line"
                return sql, model_cols, order
    return compiled, cols, ""


def explain_test(
    con: duckdb.DuckDBPyConnection,
    result: Mapping[str, Any],
    test: Mapping[str, Any],
    manifest: Mapping[str, Any],
) -> GateFailure:
    model = _attached_model(test, manifest)
    severity = "warn" if result["status"] == "warn" else "error"
    where = f" on {_asset_label(model)}" if model else ""
    head = f"dbt test {test.get('name')}{where} ({severity})"
    sql_file = f"dbt_project/{test.get('original_file_path', '?')}"
    if result["status"] == "error":
        return GateFailure(
            head, f"could not run: {_first_line(result.get('message'))} (its SQL: {sql_file})"
        )
    count = result.get("failures")
    compiled = (result.get("compiled_code") or "").strip().rstrip(";")
    counted = plural(int(count), "failing row") if count is not None else "failed"
    if not compiled:
        return GateFailure(head, f"{counted} (its SQL: {sql_file})")
    try:
        sql, cols, order = _rows_sql(con, compiled, test, model)
        examples = con.execute(
            f"select * from ({sql}) as r {'order by ' + order if order else ''} "
            f"limit {MAX_EXAMPLES}"
        ).fetchall()
        files: Sequence[tuple] = []
        if "_source_file" in cols:
            line = "min(_source_line)" if "_source_line" in cols else "null"
            files = con.execute(
                f"select _source_file, count(*), {line} from ({sql}) as r "
                "group by 1 order by 2 desc, 1"
            ).fetchall()
    except duckdb.Error as exc:
        return GateFailure(
            head,
            f"{counted}; its rows could not be read back ({_first_line(str(exc))}); "
            f"its SQL: {sql_file}",
        )
    fix = (test.get("config", {}).get("meta") or {}).get("fix")
    if files:
        todo = fix or (
            "fix the file(s) and land them again, or retract them with `segments unload FILE`"
        )
        detail = f"{counted}; {files_phrase(files)}; {todo}"
    else:
        detail = f"{counted}, computed by the models from several files; the rule: {sql_file}"
        if fix:
            detail += f"; {fix}"
    return GateFailure(head, detail, tuple(format_row(cols, row) for row in examples))


def explain(
    run_results: Mapping[str, Any], manifest: Mapping[str, Any], build_db: os.PathLike | str
) -> list[DbtProblem]:
    """Every failed test and errored node of a finished `dbt build`, explained."""
    nodes = manifest.get("nodes", {})
    failed = [r for r in run_results.get("results", []) if r.get("status") in FAILED]
    if not failed:
        return []
    problems: list[DbtProblem] = []
    con = None
    try:
        if any(r["unique_id"].startswith("test.") for r in failed) and Path(build_db).exists():
            try:
                con = duckdb.connect(os.fspath(build_db), read_only=True)
            except duckdb.Error:
                con = None
        for result in failed:
            uid = result["unique_id"]
            node = nodes.get(uid, {"name": uid.split(".")[-1]})
            if uid.startswith("test."):
                if con is None:
                    count = result.get("failures")
                    failure = GateFailure(
                        f"dbt test {node.get('name')} ({result['status']})",
                        plural(int(count), "failing row") if count is not None else "failed",
                    )
                else:
                    failure = explain_test(con, result, node, manifest)
                problems.append(DbtProblem(uid, result["status"], True, failure))
            else:
                kind = uid.split(".")[0]
                message = result.get("message") or ""
                failure = GateFailure(
                    f"dbt {kind} {_asset_label(node)} failed",
                    f"{_first_line(message)} "
                    f"(dbt_project/{node.get('original_file_path', '?')})"
                    + (f". {OUT_OF_MEMORY_FIX}" if OUT_OF_MEMORY in message else ""),
                )
                problems.append(DbtProblem(uid, result["status"], False, failure))
    finally:
        if con is not None:
            con.close()
    return problems


def summary(problems: Sequence[DbtProblem], skipped: int) -> str:
    """The dbt step's failure message: one block per blocking problem."""
    blocking = [p for p in problems if p.blocking]
    tests = sum(p.is_test for p in blocking)
    nodes = len(blocking) - tests
    parts = []
    if tests:
        parts.append(plural(tests, "test") + " failed")
    if nodes:
        parts.append(plural(nodes, "model") + " errored")
    head = "dbt build failed: " + (", ".join(parts) or "dbt exited with an error")
    if skipped:
        head += f"; {plural(skipped, 'node')} downstream of it skipped"
    head += "; nothing is published (BI keeps the last good data):"
    return "\n".join([head, *(p.failure.text() for p in blocking)])
