"""The partitions a landed file holds, read cheaply: only the columns its date comes from.

For the landing-zone sensor and `segments run` (pipelines/cli.py), which must know the daily
partitions of new files before loading them. DuckDB reads just the date column(s) (CSV:
`read_csv` with projection; JSON Lines: one JSON path per line) and no row rule runs: a row
whose date does not parse adds no date, the load judges it. A file that DuckDB's strict CSV
reader cannot parse raises `duckdb.Error`; the caller then stages it the exact way.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.lib.duck import sql_str

from .files import MAX_LINE_BYTES, read_header
from .records import load_lines
from .rules import src
from .spec import CsvFormat, LandedFile, RunContext, SourceSpec


def partition_dates(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, file: LandedFile, ctx: RunContext
) -> set[date]:
    """Distinct partition dates of the rows of `file` (reference data: the load date).

    Raises IngestError when the file cannot be read at all (wrong columns), duckdb.Error when
    the fast CSV reader gives up on it.
    """
    plan = spec.plan(file, ctx)
    if plan.date_field is None:
        return {ctx.run_date}
    expr = dict(plan.fields)[plan.date_field]
    fmt = plan.format
    if isinstance(fmt, CsvFormat):
        header = read_header(file, fmt)
        n_columns = header.pop("__n_columns__")
        needed = [c for c in fmt.columns if src(c) in expr]
        texts = ", ".join(
            f"nullif(_c{header[c]}, '') AS {src(c)}" if c in header else f"NULL AS {src(c)}"
            for c in needed
        )
        cols = ", ".join(f"'_c{i}': 'VARCHAR'" for i in range(1, n_columns + 1))
        relation = f"""
            SELECT {texts}
            FROM read_csv({sql_str(str(file.path))}, columns = {{{cols}}}, header = true,
                          auto_detect = false, delim = {sql_str(fmt.delimiter)}, quote = '"',
                          escape = '"', strict_mode = true, ignore_errors = true,
                          max_line_size = {MAX_LINE_BYTES}, encoding = {sql_str(fmt.encoding)})
        """
    else:
        load_lines(con, file, "utf-8")
        texts = ", ".join(
            f"CASE WHEN json_valid(line) THEN line::JSON ->> {sql_str(path)} END AS {src(label)}"
            for label, path in fmt.columns.items()
            if src(label) in expr
        )
        relation = f"SELECT {texts} FROM _lines"
    rows = con.execute(f"""
        SELECT DISTINCT CAST({expr} AS DATE) AS d FROM ({relation}) WHERE d IS NOT NULL
    """).fetchall()
    return {r[0] for r in rows}
