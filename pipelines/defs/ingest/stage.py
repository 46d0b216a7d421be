"""From a landed file to judged rows in the table `_staged`, all in DuckDB SQL.

`_staged` holds, for every record of every file parsed in this run: the typed columns of the
raw table, the lineage columns, and `reason_code` / `reason_detail` / `raw_record` (NULL
reason = good row). Per-file rules come from the reader's `ReadPlan`; the rules that compare
rows across files (`duplicate_id`, `orphan_refund`) run once over the whole batch.

`_staged` lives in an in-memory database attached to the build connection (`STAGING_DB`), so
worker threads, each on its own cursor with its own temp tables, judge files into it at the
same time (loader._stage_files); `Stager` judges small files in groups (one statement each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from pipelines.lib.currencies import ISO_4217, minor_units
from pipelines.lib.duck import quote_ident, sql_str

from . import records
from .spec import (
    CsvFormat,
    IngestError,
    LandedFile,
    ReadPlan,
    RunContext,
    SourceSpec,
    UniqueKey,
)

# An in-memory database attached to the build database's connection: unlike a temp table,
# every cursor of the connection sees it, so worker threads judge files into one `_staged`.
STAGING_DB = "_ingest"
STAGED = f"{STAGING_DB}._staged"


def _date(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def _timestamp(ts: datetime) -> str:
    return f"TIMESTAMP '{ts.isoformat(sep=' ')}'"


def register_helpers(con: duckdb.DuckDBPyConnection) -> None:
    """Temp lookup tables the row rules use (`_iso_4217`)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _iso_4217 (code VARCHAR, minor_units INTEGER)")
    con.executemany(
        "INSERT INTO _iso_4217 VALUES (?, ?)", [(c, minor_units(c)) for c in sorted(ISO_4217)]
    )


def create_staged(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    cols = ",\n".join(f"{quote_ident(n)} {t}" for n, t in spec.columns)
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {STAGING_DB}")
    con.execute(f"""
        CREATE OR REPLACE TABLE {STAGED} (
            {cols},
            _source_file VARCHAR, _source_line BIGINT, _loaded_at TIMESTAMP,
            _partition_date DATE, reason_code VARCHAR, reason_detail VARCHAR,
            raw_record VARCHAR, _file_rank INTEGER
        )
    """)


# Files up to this size are judged together with the other small files of their batch that
# share a judging statement: the statement (~20k characters of rules for Shopify) is planned
# once per group instead of once per file, which was ~40 of the ~60 ms a small file cost.
# Bigger files are judged alone as they are read (a JSON Lines file streams, never copied).
GROUP_MAX_BYTES = 1024 * 1024
# the relation a judging statement reads: the text rows plus `_source_file` and `_file_rank`
JUDGE_INPUT = "_judge_input"


@dataclass
class _Group:
    table: str  # temp table holding the text rows of the group's files
    sql: str  # the judging statement over `table`
    files: dict[int, str] = field(default_factory=dict)  # file rank -> path


class Stager:
    """Parses, types and judges files into `_staged` (create_staged first).

    `stage(file, rank)` reads one file (IngestError if it cannot be read); a big file is
    judged at once, a small one waits in a group with the files whose judging statement is
    the same. `finish()` judges the groups and returns the files whose rows DuckDB could not
    type: a group that fails is judged again file by file, so only the file at fault fails
    and its error names it. `fast=False` forces the exact CSV path.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spec: SourceSpec,
        ctx: RunContext,
        *,
        fast: bool = True,
        group_max_bytes: int | None = None,
    ) -> None:
        self.con, self.spec, self.ctx, self.fast = con, spec, ctx, fast
        self.group_max_bytes = GROUP_MAX_BYTES if group_max_bytes is None else group_max_bytes
        self._groups: dict[str, _Group] = {}

    def stage(self, file: LandedFile, file_rank: int) -> str | None:
        """Read `file` into text rows and judge them (now, or in `finish`).

        Returns the file's encoding when its good rows were staged without their raw text
        (fast CSV path; see `fill_raw_records`), else None."""
        plan = self.spec.plan(file, self.ctx)
        if isinstance(plan.format, CsvFormat):
            text = records.csv_text(self.con, file, plan.format, fast=self.fast)
            malformed = "malformed_row"
        else:
            text = records.jsonl_text(self.con, file, plan.format)
            malformed = "invalid_json"
        lineage = f"{sql_str(file.rel)} AS _source_file, {file_rank}::INTEGER AS _file_rank"
        key = _judge_sql(self.spec, plan, text, malformed, JUDGE_INPUT, self.ctx)
        group = self._groups.get(key)
        if file.path.stat().st_size > self.group_max_bytes:
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {JUDGE_INPUT} AS SELECT *, {lineage} FROM {text.name}"
            )
            self._judge(key, {file_rank: file.rel})
        elif group is None:
            table = f"_judge_group_{len(self._groups) + 1}"
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT *, {lineage} FROM {text.name}"
            )
            sql = _judge_sql(self.spec, plan, text, malformed, table, self.ctx)
            self._groups[key] = _Group(table, sql, {file_rank: file.rel})
        else:
            self.con.execute(
                f"INSERT INTO {group.table} BY NAME SELECT *, {lineage} FROM {text.name}"
            )
            group.files[file_rank] = file.rel
        return plan.format.encoding if text.lazy_raw_record else None

    def finish(self) -> dict[str, IngestError]:
        """Judge every waiting group; returns path -> error for files that failed."""
        failed: dict[str, IngestError] = {}
        for key, group in self._groups.items():
            try:
                self._judge(group.sql, group.files)
            except IngestError:
                for rank, rel in group.files.items():
                    self.con.execute(
                        f"CREATE OR REPLACE TEMP VIEW {JUDGE_INPUT} AS "
                        f"SELECT * FROM {group.table} WHERE _file_rank = {rank}"
                    )
                    try:
                        self._judge(key, {rank: rel})
                    except IngestError as exc:
                        failed[rel] = exc
            self.con.execute(f"DROP TABLE IF EXISTS {group.table}")
        self._groups.clear()
        return failed

    def _judge(self, sql: str, files: dict[int, str]) -> None:
        try:
            self.con.execute(sql)
        except duckdb.Error as exc:
            names = ", ".join(files.values())
            raise IngestError(
                f"{names}: DuckDB failed while typing its rows ({exc}). This is a bug in the "
                f"{self.spec.name} reader, not in the file: report it with the file attached."
            ) from exc


def _judge_sql(
    spec: SourceSpec,
    plan: ReadPlan,
    text: records.TextRelation,
    malformed: str,
    relation: str,
    ctx: RunContext,
) -> str:
    """The statement that types and judges the text rows in `relation` (the text relation's
    columns plus `_source_file` and `_file_rank`) into `_staged`. It depends on the file only
    through its plan and text path, so files that share it are judged in one statement."""
    base = plan.prepare(relation) if plan.prepare else f"SELECT * FROM {relation}"
    raw_record = (
        f"CASE WHEN reason_code IS NOT NULL THEN {text.raw_record} END"
        if text.lazy_raw_record
        else text.raw_record
    )
    types = dict(spec.columns)
    # TRY_CAST: a value out of the column's range (a 12-digit quantity) becomes NULL, which
    # the plan's `parses` rules quarantine, instead of an error that would fail the file.
    typed = ",\n".join(
        f"TRY_CAST({expr} AS {types[name]}) AS {quote_ident(name)}" for name, expr in plan.fields
    )
    # Each rule is evaluated once: the first failing rule's number picks reason and detail.
    first_failing = " ".join(f"WHEN {c.fails} THEN {i}" for i, c in enumerate(plan.checks, 1))
    reasons = ", ".join(sql_str(c.reason) for c in plan.checks)
    details = " ".join(f"WHEN {i} THEN {c.detail}" for i, c in enumerate(plan.checks, 1))
    names = ", ".join(quote_ident(n) for n, _ in spec.columns)
    return f"""
        INSERT INTO {STAGED} BY NAME
        WITH base AS ({base}),
        typed AS (
            SELECT base.*, {typed},
                   {_date(ctx.run_date)} AS _run_date, {_date(ctx.start_date)} AS _start_date
            FROM base
        ),
        dated AS (
            SELECT *, CASE WHEN _malformed IS NULL THEN CAST({plan.partition_date} AS DATE) END
                      AS _partition_date
            FROM typed
        ),
        ruled AS (
            SELECT *, CASE WHEN _malformed IS NOT NULL THEN 0 {first_failing} END AS _rule
            FROM dated
        ),
        judged AS (
            SELECT *,
                   CASE WHEN _rule = 0 THEN {sql_str(malformed)}
                        ELSE [{reasons}][_rule] END AS reason_code,
                   CASE _rule WHEN 0 THEN _malformed {details} END AS reason_detail
            FROM ruled
        )
        SELECT {names}, _source_file, _source_line,
               {_timestamp(ctx.loaded_at)} AS _loaded_at,
               _partition_date, reason_code, reason_detail,
               {raw_record} AS raw_record,
               _file_rank
        FROM judged
    """


def mark_duplicates(con: duckdb.DuckDBPyConnection, spec: SourceSpec, raw_table: str) -> None:
    """`duplicate_id` for good rows whose key was loaded before, for the source's key and
    then each of its `also_unique` keys (over the rows still good).

    "Before" means, in this order: a row in raw from a file outside this batch; a row of an
    earlier file in this batch (files rank by first_seen_at, then path, so a re-run decides
    the same way); or, when the key must be unique within a file, an earlier line of the same
    file (of another entity, for an `also_unique` key). The first occurrence always stays.
    """
    if spec.key is None:
        return
    _mark_key(con, raw_table, spec.key, spec.key_label or spec.key, None, spec.unique_within_file)
    for key in spec.also_unique:
        _mark_key(con, raw_table, key.sql, key.label, key, within_file=True)


def _mark_key(
    con: duckdb.DuckDBPyConnection,
    raw_table: str,
    key: str,
    label: str,
    unique: UniqueKey | None,
    within_file: bool,
) -> None:
    entity = unique.entity if unique else None
    ent = entity or "NULL"
    same_file = "(prior_rank = _file_rank AND prior_line < _source_line"
    same_file += " AND prior_entity IS DISTINCT FROM e)" if entity is not None else ")"
    if not within_file:
        same_file = "FALSE"
    seen_as = (
        f"' (as ' || {sql_str(unique.entity_label)} || '=' || coalesce({{}}, '?') || ')'"
        if unique is not None
        else "''"
    )
    # Most keys occur once: aggregate per key (hash) and join back only the repeated ones.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dupes AS
        WITH good AS (
            SELECT _source_file, _source_line, _file_rank, {key} AS k, {ent} AS e
            FROM {STAGED} WHERE reason_code IS NULL AND {key} IS NOT NULL
        ),
        repeated AS (
            SELECT k, min({{'r': _file_rank, 'l': _source_line, 'f': _source_file, 'e': e}})
                      AS prior
            FROM good GROUP BY k HAVING count(*) > 1
        ),
        in_raw AS (
            SELECT {key} AS k,
                   min({{'f': _source_file, 'l': _source_line, 'e': {ent}}}) AS first
            FROM {raw_table}
            WHERE {key} IN (SELECT k FROM good)
              AND _source_file NOT IN (SELECT DISTINCT _source_file FROM {STAGED})
            GROUP BY ALL
        ),
        judged AS (
            SELECT good.*, repeated.prior.r AS prior_rank, repeated.prior.l AS prior_line,
                   repeated.prior.f AS prior_file, repeated.prior.e AS prior_entity,
                   in_raw.first AS raw_first
            FROM good
            LEFT JOIN repeated USING (k)
            LEFT JOIN in_raw USING (k)
            WHERE repeated.k IS NOT NULL OR in_raw.k IS NOT NULL
        )
        SELECT _source_file, _source_line,
               CASE WHEN raw_first IS NOT NULL
                    THEN 'already in ' || raw_first.f || ' line ' || raw_first.l
                         || {seen_as.format("raw_first.e")}
                    WHEN prior_rank < _file_rank
                    THEN 'already in ' || prior_file || ' line ' || prior_line
                         || {seen_as.format("prior_entity")}
                    ELSE 'already at line ' || prior_line || ' of this file'
                         || {seen_as.format("prior_entity")} END AS why,
               k
        FROM judged
        WHERE raw_first IS NOT NULL OR prior_rank < _file_rank OR {same_file}
    """)
    con.execute(f"""
        UPDATE {STAGED} AS s
        SET reason_code = 'duplicate_id',
            reason_detail = {sql_str(label)} || '=' || d.k || ' ' || d.why
        FROM _dupes AS d
        WHERE s._source_file = d._source_file AND s._source_line = d._source_line
    """)


def mark_orphans(con: duckdb.DuckDBPyConnection, spec: SourceSpec, raw_table: str) -> None:
    """`orphan_refund` for good refund rows whose reference is empty or matches no
    transaction in raw or in the good rows of this batch."""
    rule = spec.orphan
    if rule is None:
        return
    con.execute(f"""
        UPDATE {STAGED}
        SET reason_code = 'orphan_refund',
            reason_detail = CASE WHEN {rule.reference} IS NULL
                THEN {sql_str(rule.label)} || ' is empty on a refund/chargeback'
                ELSE {sql_str(rule.label)} || '=' || {rule.reference}
                     || ' matches no transaction loaded so far' END
        WHERE reason_code IS NULL AND ({rule.is_refund})
          AND ({rule.reference} IS NULL OR {rule.reference} NOT IN (
                SELECT {rule.target} FROM {STAGED}
                WHERE reason_code IS NULL AND {rule.target} IS NOT NULL
                UNION ALL
                SELECT {rule.target} FROM {raw_table} WHERE {rule.target} IS NOT NULL))
    """)


def mark_no_partition(con: duckdb.DuckDBPyConnection) -> None:
    """Safety net: a row that passed every rule but has no partition date cannot be placed
    in raw (its `_partition_date` is NOT NULL); quarantine it rather than lose it."""
    con.execute(f"""
        UPDATE {STAGED}
        SET reason_code = 'invalid_timestamp',
            reason_detail = 'no partition date could be derived from the row'
        WHERE reason_code IS NULL AND _partition_date IS NULL
    """)


def fill_raw_records(
    con: duckdb.DuckDBPyConnection, files: dict[str, tuple[LandedFile, str]]
) -> None:
    """Give rows quarantined by the batch rules (duplicate_id, orphan_refund) their raw text.

    After a fast CSV read a good row has no raw text (re-joining every row's fields costs
    more than the read); `files` maps such files to their encoding. Only files that have
    such rows are read again, as lines: on the fast path a record is exactly one line.
    """
    todo = con.execute(f"""
        SELECT DISTINCT _source_file FROM {STAGED}
        WHERE reason_code IS NOT NULL AND raw_record IS NULL
    """).fetchall()
    for (rel,) in todo:
        if rel not in files:
            continue
        file, encoding = files[rel]
        records.load_lines(con, file, encoding)
        con.execute(
            f"""
            UPDATE {STAGED} AS s SET raw_record = l.line
            FROM _lines AS l
            WHERE s._source_file = ? AND s.reason_code IS NOT NULL AND s.raw_record IS NULL
              AND l.ln = s._source_line
            """,
            [rel],
        )
