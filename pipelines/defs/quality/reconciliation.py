"""`file_rows_reconcile` (per raw table, blocking): nothing lost between landed files and tables.

For every landed file (all of them, every run): rows in the file = rows in raw + rows in
quarantine (+ rows of days no run has loaded yet), and meta.load_manifest agrees with both
tables (`docs/raw_tables.md`; DESIGN.md "Nothing lost"). Revenue is reconciled in `revenue.py`.

Why every file and not only the run's: it is three group-bys by `_source_file` (raw,
quarantine, manifest), well under a second at ten million rows, it needs no notion of "the
run's files" (partition tags or load times), and a file damaged by a later run (a replaced
file, a manual delete) is caught by the next run, not never.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of an
# asset check at definition time and does not resolve string annotations.

from dataclasses import dataclass

import dagster as dg
import duckdb

from pipelines.defs.quality.results import failed_result, md_table
from pipelines.lib.duck import connect, quote_ident, table_exists
from pipelines.resources import SegmentsSettings

FILE_ROWS_CHECK = "file_rows_reconcile"


@dataclass(frozen=True)
class FileMismatch:
    """One landed file whose rows do not add up; `problem` says how."""

    file_path: str
    status: str | None
    rows_in_file: int | None
    manifest_loaded: int | None
    manifest_quarantined: int | None
    rows_waiting: int  # rows of days no run has loaded yet (0 when the manifest lacks it)
    raw_rows: int
    quarantine_rows: int
    problem: str


def file_row_mismatches(
    con: duckdb.DuckDBPyConnection, raw_table: str, source: str
) -> tuple[int, list[FileMismatch]]:
    """(files checked, files that do not reconcile) for one source.

    Grain: one row per landed file of `source` in meta.load_manifest, plus any file that has
    rows in raw.<raw_table> or quarantine.<source> but no manifest row. Every such file is
    checked; counts are taken over whole tables by `_source_file` (one aggregate each).

    A daily run loads one day of a multi-day file; the manifest's `rows_waiting` (ingest's
    addition to the contract) counts the rows of days not loaded yet, so the invariant is
    rows in file = rows in raw + rows in quarantine + rows waiting.
    """
    manifest_columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'meta' AND table_name = 'load_manifest'"
        ).fetchall()
    }
    waiting = "coalesce(m.rows_waiting, 0)" if "rows_waiting" in manifest_columns else "0"
    quarantine = (
        "SELECT _source_file AS file_path, count(*) AS n "
        f"FROM quarantine.{quote_ident(source)} GROUP BY ALL"
        if table_exists(con, "quarantine", source)
        # A source whose loads never rejected a row may not have its quarantine table yet.
        else "SELECT NULL::VARCHAR AS file_path, 0::BIGINT AS n WHERE false"
    )
    rows = con.execute(
        f"""
        WITH manifest AS (
            SELECT * FROM meta.load_manifest WHERE source = ?
        ),
        raw_rows AS (
            SELECT _source_file AS file_path, count(*) AS n
            FROM raw.{quote_ident(raw_table)}
            GROUP BY ALL
        ),
        quarantine_rows AS ({quarantine}),
        files AS (
            SELECT
                coalesce(m.file_path, r.file_path, q.file_path) AS file_path,
                m.status, m.rows_in_file, m.rows_loaded, m.rows_quarantined,
                {waiting} AS rows_waiting,
                coalesce(r.n, 0) AS raw_rows,
                coalesce(q.n, 0) AS quarantine_rows
            FROM manifest AS m
            FULL JOIN raw_rows AS r ON r.file_path = m.file_path
            FULL JOIN quarantine_rows AS q ON q.file_path = coalesce(m.file_path, r.file_path)
        ),
        verdicts AS (
            SELECT *, CASE
                WHEN status IS NULL
                    THEN 'rows in raw/quarantine come from a file missing in meta.load_manifest'
                WHEN status = 'loaded'
                    AND rows_in_file IS DISTINCT FROM raw_rows + quarantine_rows + rows_waiting
                    THEN 'rows in file != rows in raw + rows in quarantine + rows waiting'
                WHEN raw_rows <> coalesce(rows_loaded, 0)
                    THEN 'raw rows != manifest rows_loaded'
                WHEN quarantine_rows <> coalesce(rows_quarantined, 0)
                    THEN 'quarantine rows != manifest rows_quarantined'
            END AS problem
            FROM files
        )
        SELECT count(*) OVER () AS files_checked, file_path, status, rows_in_file, rows_loaded,
               rows_quarantined, rows_waiting, raw_rows, quarantine_rows, problem
        FROM verdicts
        ORDER BY problem IS NULL, file_path
        """,
        [source],
    ).fetchall()
    checked = rows[0][0] if rows else 0
    return checked, [FileMismatch(*r[1:]) for r in rows if r[-1] is not None]


def build_file_rows_check(raw_table: str, source: str) -> dg.AssetChecksDefinition:
    """Blocking check on raw/<raw_table>: every file of the run reconciles (see module doc)."""
    key = dg.AssetKey(["raw", raw_table])

    @dg.asset_check(
        asset=key,
        name=FILE_ROWS_CHECK,
        blocking=True,
        description=(
            f"Blocking: for every landed {source} file, rows in the file = rows in "
            f"raw.{raw_table} + rows in quarantine.{source} + rows of days not loaded yet, "
            "and meta.load_manifest agrees with both tables."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, settings: SegmentsSettings
    ) -> dg.AssetCheckResult:
        cfg = settings.get()
        with connect(cfg.build_db, read_only=True) as con:
            for schema, table in (("meta", "load_manifest"), ("raw", raw_table)):
                if not table_exists(con, schema, table):
                    return failed_result(
                        key,
                        FILE_ROWS_CHECK,
                        (
                            f"{schema}.{table} does not exist yet in {cfg.build_db}: materialise "
                            f"raw/{raw_table} first (e.g. run the `refresh` job)."
                        ),
                    )
            checked, mismatches = file_row_mismatches(con, raw_table, source)
        table_md = md_table(
            [
                "file",
                "status",
                "rows in file",
                "raw (manifest / table)",
                "quarantine (manifest / table)",
                "waiting",
                "problem",
            ],
            [
                (
                    m.file_path,
                    m.status,
                    m.rows_in_file,
                    f"{m.manifest_loaded} / {m.raw_rows}",
                    f"{m.manifest_quarantined} / {m.quarantine_rows}",
                    m.rows_waiting,
                    m.problem,
                )
                for m in mismatches
            ],
        )
        description = (
            f"All {checked} file(s) reconcile."
            if not mismatches
            else f"{len(mismatches)} of {checked} file(s) do not reconcile: "
            + "; ".join(f"{m.file_path}: {m.problem}" for m in mismatches[:3])
        )
        return dg.AssetCheckResult(
            passed=not mismatches,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description,
            metadata={
                "scope": dg.MetadataValue.text("every landed file"),
                "files_checked": dg.MetadataValue.int(checked),
                "files_mismatched": dg.MetadataValue.int(len(mismatches)),
                "mismatches": dg.MetadataValue.md(table_md if mismatches else description),
            },
        )

    return _check
