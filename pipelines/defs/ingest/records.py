"""One landed file as text rows in DuckDB: temp table `_text`, one row per record.

`_text` has `_source_line` (line where the record starts: the CSV header is line 1, a JSON
Lines file's first record is line 1), `_malformed` (why the record is not valid CSV / not a
JSON object, else NULL) and one VARCHAR `"@<label>"` per column the reader's plan reads (NULL
when blank or absent). `TextRelation.raw_record` is the SQL giving the record's text for
quarantine.raw_record.

CSV takes one of two paths, chosen per file, with the same rows and values (only raw_record
differs: the fast path re-joins the fields, quoting only where CSV needs it):

* fast: DuckDB's `read_csv(all VARCHAR, strict)`, ~5x faster than the exact path. Its row
  order (WITH ORDINALITY) is the file's, but it cannot say which line a row came from, so the
  fast path is taken only when every record is exactly one line: the file has no empty line,
  DuckDB raised nothing, and rows + rejected rows = lines - 1. Then line = position, and a
  row with the wrong field count is a reject DuckDB reports with its line.
* exact: every physical line (read with no quoting), lines joined into records where a
  quoted field spans lines, records split by one RFC 4180 regex. Each record keeps its exact
  line and text, and a record that is not valid CSV (`"Anna" K`, text after a closing
  quote) becomes one `malformed_row` without disturbing its neighbours, where `read_csv`
  would abort the file (strict) or swallow the rest of it into one rejected row (non-strict).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import duckdb

from pipelines.lib.duck import quote_ident, sql_str

from .files import MAX_LINE_BYTES, check_text, duckdb_path, read_header
from .rules import src
from .spec import CsvFormat, IngestError, JsonLinesFormat, LandedFile

log = logging.getLogger(__name__)

TEXT = "_text"
# JSON Lines: a view over `_lines` (a different name: DuckDB cannot replace a table by a view)
JSONL_TEXT = "_jsonl_text"
# DuckDB's reject types that are one record with the wrong number of fields; anything else
# (an unterminated quote, a line too long) sends the file down the exact path.
_FIELD_COUNT_REJECTS = ("MISSING COLUMNS", "TOO MANY COLUMNS")


@dataclass(frozen=True)
class TextRelation:
    name: str  # the temp table (JSON Lines: view)
    raw_record: str  # SQL over its columns: the record's original text
    # Fast CSV and JSON Lines paths: raw_record is computed only for rows quarantined while
    # staging (re-joining CSV fields is costly; a copy of every JSON line is memory); rows
    # quarantined later by a batch rule re-read their line instead.
    lazy_raw_record: bool = False


# A file with a carriage return up to this size is read whole and split on LF in memory
# (UTF-8 only), which keeps a CR that is not part of a CRLF inside its line; the whole text
# and its lines are held at once, so bigger files stream (see load_lines).
WHOLE_FILE_MAX_BYTES = 256 * 1024 * 1024


def load_lines(
    con: duckdb.DuckDBPyConnection, file: LandedFile, encoding: str, *, has_cr: bool = True
) -> None:
    """Temp table `_lines(ln, line)`: every physical line of the file, numbered from 1.

    A file without any carriage return (`has_cr=False`: check_text found none) streams
    through read_csv as one column: as fast as reading it whole and splitting it (138 MB:
    0.5 vs 0.6 s; 250 MB: 0.8 vs 1.1-1.8 s), where the split of a 573 MB file did not end in a
    minute. A file with CRs up to WHOLE_FILE_MAX_BYTES is split on LF in memory, CRs of CRLF
    trimmed: read_csv takes any CR for a line break and drops the text after a lone one
    (`a<CR>b<LF>` reads as `a` and an empty line). Bigger files with CRs stream with
    `new_line='\\r\\n'` (LF and CRLF endings) and every line's trailing CRs trimmed (3.5 of the
    4.9 s a 573 MB file takes); a lone CR in such a file still splits its line. Empty lines are
    kept as '' so numbering stays physical.
    """
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    if has_cr and utf8 and file.path.stat().st_size <= WHOLE_FILE_MAX_BYTES:
        try:
            _load_lines_whole(con, file)
            return
        except duckdb.Error as exc:  # e.g. a line DuckDB will not hold: stream it instead
            log.debug("%s: whole-file line split failed (%s); streaming", file.rel, exc)
    line = "rtrim(line, chr(13))" if has_cr else "line"
    # Table-function arguments cannot be bound as parameters: the path is an escaped literal.
    with duckdb_path(file.path) as path:
        sql = f"""
            CREATE OR REPLACE TEMP TABLE _lines AS
            SELECT ordinality::BIGINT AS ln, coalesce({line}, '') AS line
            FROM read_csv({sql_str(path)}, columns = {{'line': 'VARCHAR'}},
                          header = false, auto_detect = false, delim = chr(0), quote = '',
                          escape = '', new_line = '\\r\\n', strict_mode = false,
                          max_line_size = {MAX_LINE_BYTES}, encoding = {sql_str(encoding)})
                 WITH ORDINALITY
        """
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise IngestError(
                f"{file.rel}: DuckDB could not read the file as lines: {exc}"
            ) from exc


def _load_lines_whole(con: duckdb.DuckDBPyConnection, file: LandedFile) -> None:
    """`_lines` from the whole file split on LF (CRs of CRLF trimmed, a UTF-8 BOM dropped like
    read_csv does); the empty string after a final newline is not a line. Trimming is decided
    once per file: an `rtrim` on every line cost more than the split itself."""
    with duckdb_path(file.path) as path:
        _load_lines_split(con, path)


def _load_lines_split(con: duckdb.DuckDBPyConnection, path: str) -> None:
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lines AS
        WITH parts AS (
            SELECT string_split(content, chr(10)) AS lines,
                   contains(content, chr(13)) AS has_cr,
                   starts_with(content, chr(65279)) AS has_bom
            FROM read_text({sql_str(path)})
        ),
        sized AS (
            SELECT *, len(lines) - CASE WHEN lines[-1] = '' THEN 1 ELSE 0 END AS n FROM parts
        ),
        numbered AS (
            SELECT unnest(generate_series(1, n))::BIGINT AS ln, unnest(lines[1:n]) AS line,
                   has_cr, has_bom
            FROM sized
        ),
        trimmed AS (
            SELECT ln, has_bom,
                   CASE WHEN has_cr AND ends_with(line, chr(13)) THEN rtrim(line, chr(13))
                        ELSE line END AS line
            FROM numbered
        )
        SELECT ln, CASE WHEN has_bom AND ln = 1 THEN line[2:] ELSE line END AS line
        FROM trimmed
    """)


def csv_text(
    con: duckdb.DuckDBPyConnection, file: LandedFile, fmt: CsvFormat, *, fast: bool = True
) -> TextRelation:
    """`_text` for a CSV file (see module docstring); `fast=False` forces the exact path."""
    facts = check_text(file, fmt.encoding)
    header = read_header(file, fmt)
    n_columns = header.pop("__n_columns__")
    if fast and not facts.has_blank_line:
        rel = _csv_fast(con, file, fmt, header, n_columns, records=facts.lines - 1)
        if rel is not None:
            return rel
        log.info("%s: records span lines or break CSV rules; reading it line by line", file.rel)
    return _csv_exact(con, file, fmt, header, n_columns, has_cr=facts.has_cr)


def _malformed_detail(n_columns: int, found_sql: str) -> str:
    return f"'expected {n_columns} fields like the header, found ' || {found_sql}"


def _csv_fast(
    con: duckdb.DuckDBPyConnection,
    file: LandedFile,
    fmt: CsvFormat,
    header: dict[str, int],
    n_columns: int,
    records: int,
) -> TextRelation | None:
    """`_text` through read_csv, or None when its rows cannot be tied to lines."""
    cols = ", ".join(f"'_c{i}': 'VARCHAR'" for i in range(1, n_columns + 1))
    # Reject tables accumulate over calls on a connection: start from empty ones.
    con.execute("DROP TABLE IF EXISTS reject_errors")
    con.execute("DROP TABLE IF EXISTS reject_scans")
    try:
        with duckdb_path(file.path) as path:
            _read_fields(con, path, fmt, cols)
    except duckdb.Error as exc:
        log.debug("%s: read_csv gave up (%s)", file.rel, exc)
        return None
    return _fast_text(con, fmt, header, n_columns, records)


def _read_fields(con: duckdb.DuckDBPyConnection, path: str, fmt: CsvFormat, cols: str) -> None:
    """Temp table `_fields`: read_csv's records of the file, all VARCHAR, numbered."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _fields AS
        SELECT ordinality AS _record, *
        FROM read_csv({sql_str(path)}, columns = {{{cols}}}, header = true,
                      auto_detect = false, delim = {sql_str(fmt.delimiter)}, quote = '"',
                      escape = '"', strict_mode = true, ignore_errors = true,
                      store_rejects = true, max_line_size = {MAX_LINE_BYTES},
                      encoding = {sql_str(fmt.encoding)})
             WITH ORDINALITY
    """)


def _fast_text(
    con: duckdb.DuckDBPyConnection,
    fmt: CsvFormat,
    header: dict[str, int],
    n_columns: int,
    records: int,
) -> TextRelation | None:
    """`_text` from `_fields` and DuckDB's rejects, or None when rows and lines disagree."""
    rows, rejects, other = con.execute(f"""
        SELECT (SELECT count(*) FROM _fields),
               (SELECT count(DISTINCT line) FROM reject_errors),
               (SELECT count(*) FROM reject_errors
                WHERE error_type NOT IN ({", ".join(sql_str(t) for t in _FIELD_COUNT_REJECTS)}))
    """).fetchone()
    if other or rows + rejects != records:
        return None

    texts = ", ".join(
        f"nullif(_c{header[c]}, '') AS {src(c)}" if c in header else f"NULL::VARCHAR AS {src(c)}"
        for c in fmt.columns
    )
    # Line of the k-th good row: the k-th line after the header that DuckDB did not reject.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {TEXT} AS
        WITH rejected AS (
            SELECT line, any_value(csv_line) AS csv_line,
                   any_value(regexp_extract(error_message, 'Found: (\\d+)', 1)) AS found
            FROM reject_errors GROUP BY line
        ),
        good_lines AS (
            SELECT line AS _source_line, row_number() OVER (ORDER BY line) AS _record
            FROM range(2, {records + 2}) AS t(line)
            WHERE line NOT IN (SELECT line FROM rejected)
        )
        SELECT g._source_line, NULL::VARCHAR AS _raw_record, NULL::VARCHAR AS _malformed,
               {texts}, f.* EXCLUDE (_record)
        FROM _fields AS f JOIN good_lines AS g USING (_record)
        UNION ALL BY NAME
        SELECT line AS _source_line, csv_line AS _raw_record,
               {_malformed_detail(n_columns, "found")} AS _malformed
        FROM rejected
    """)
    raw = f"coalesce(_raw_record, {_rejoin(fmt.delimiter, n_columns)})"
    return TextRelation(TEXT, raw, lazy_raw_record=True)


def _rejoin(delimiter: str, n_columns: int) -> str:
    """SQL: the fields `_c1.._cN` joined back into one CSV record, quoted where needed."""
    d = sql_str(delimiter)

    def field(i: int) -> str:
        c = f"coalesce(_c{i}, '')"
        needs_quotes = f"(contains({c}, {d}) OR contains({c}, '\"') OR contains({c}, chr(10)))"
        quoted = f"'\"' || replace({c}, '\"', '\"\"') || '\"'"
        return f"CASE WHEN {needs_quotes} THEN {quoted} ELSE {c} END"

    return f"concat_ws({d}, {', '.join(field(i) for i in range(1, n_columns + 1))})"


def _csv_exact(
    con: duckdb.DuckDBPyConnection,
    file: LandedFile,
    fmt: CsvFormat,
    header: dict[str, int],
    n_columns: int,
    *,
    has_cr: bool = True,
) -> TextRelation:
    """`_text` from physical lines, split by an RFC 4180 regex (see module docstring)."""
    load_lines(con, file, fmt.encoding, has_cr=has_cr)
    _group_quoted_newlines(con)
    d = sql_str(fmt.delimiter)
    rx = re.escape(fmt.delimiter)
    # One field = a quoted field ("" escapes a quote) or an unquoted run that does not start
    # with a quote (a quote inside it is literal, as DuckDB and Python's csv read it), each
    # followed by the delimiter (appended once to the record so every field has one).
    token = sql_str(f'"[^"]*(?:""[^"]*)*"{rx}|(?:[^{rx}"][^{rx}]*)?{rx}')
    texts = ", ".join(
        f"CASE WHEN _ok THEN nullif(f[{header[c]}], '') END AS {src(c)}"
        if c in header
        else f"NULL::VARCHAR AS {src(c)}"
        for c in fmt.columns
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {TEXT} AS
        WITH tokens AS (
            SELECT ln, record,
                   CASE WHEN contains(record, '"')
                        THEN regexp_extract_all(record || {d}, {token}) END AS toks
            FROM _records
            WHERE ln > 1 AND record <> ''
        ),
        split AS (
            SELECT ln, record,
                   CASE WHEN toks IS NULL THEN string_split(record, {d})
                        ELSE list_transform(toks, lambda t: CASE WHEN starts_with(t, '"')
                             THEN replace(t[2:-3], '""', '"') ELSE t[1:-2] END) END AS f,
                   toks IS NULL
                   OR list_sum(list_transform(toks, lambda t: length(t))) = length(record) + 1
                       AS tiles
            FROM tokens
        ),
        checked AS (SELECT *, tiles AND len(f) = {n_columns} AS _ok FROM split)
        SELECT ln AS _source_line, record AS _raw_record,
               CASE WHEN NOT tiles
                    THEN 'not valid CSV: text after a closing quote, or a quote left open'
                    WHEN len(f) <> {n_columns}
                    THEN {_malformed_detail(n_columns, "len(f)")} END AS _malformed,
               {texts}
        FROM checked
    """)
    return TextRelation(TEXT, "_raw_record")


def _group_quoted_newlines(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table/view `_records(ln, record)`: lines joined into CSV records.

    A quoted field may span lines; a line continues the record before it when the quotes
    seen so far are unbalanced (odd count). Most files have no such line, and then each line
    is a record and the window over the whole file is skipped.
    """
    odd = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1"
    any_odd = con.execute(f"SELECT bool_or({odd}) FROM _lines").fetchone()
    if not (any_odd and any_odd[0]):
        con.execute("CREATE OR REPLACE TEMP VIEW _records AS SELECT ln, line AS record FROM _lines")
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _records AS
        WITH parity AS (
            SELECT ln, line,
                   coalesce(sum(CASE WHEN {odd} THEN 1 ELSE 0 END) OVER (
                       ORDER BY ln ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 0
                       AS starts_record
            FROM _lines
        ),
        grouped AS (
            SELECT ln, line,
                   max(CASE WHEN starts_record THEN ln END) OVER (
                       ORDER BY ln ROWS UNBOUNDED PRECEDING) AS record_ln
            FROM parity
        )
        SELECT record_ln AS ln, string_agg(line, chr(10) ORDER BY ln) AS record
        FROM grouped
        GROUP BY record_ln
    """)


def jsonl_text(
    con: duckdb.DuckDBPyConnection, file: LandedFile, fmt: JsonLinesFormat
) -> TextRelation:
    """View `_jsonl_text` over a JSON Lines file's lines: one row per non-blank line, plus
    `_json` (the parsed object), with the columns `_text` has for CSV. Each line is read as
    text first, so a truncated line is an `invalid_json` row with its line number, never
    silently skipped."""
    facts = check_text(file, "utf-8", blank_lines=False)  # blank lines are skipped below
    load_lines(con, file, "utf-8", has_cr=facts.has_cr)
    # One parse per line for all the fields: json_extract_string with a list of paths reads
    # the object once (a `->>` per field re-parsed the line ~17 times: 3.4x slower on Stripe).
    paths = "[" + ", ".join(sql_str(path) for path in fmt.columns.values()) + "]"
    texts = ", ".join(
        f"_values[{i}] AS {quote_ident('@' + label)}" for i, label in enumerate(fmt.columns, 1)
    )
    # A view, not a table: the judged insert reads it once, so each line is parsed and judged
    # in one streaming pass (as a table, the copy of every line, its JSON and its values took
    # 10 us a line for a 573 MB file, spilling past the memory limit at 30M transactions).
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {JSONL_TEXT} AS
        WITH typed AS (
            -- TRY_CAST: NULL for a line that is not JSON (cheaper than json_valid + cast)
            SELECT ln AS _source_line, line AS _raw_record, TRY_CAST(line AS JSON) AS _json
            FROM _lines
            WHERE trim(line) <> ''
        ),
        kinds AS (
            SELECT *, json_type(_json) AS _kind FROM typed
        ),
        judged AS (
            SELECT *,
                   CASE WHEN _json IS NULL
                        THEN 'not valid JSON (a truncated or cut-off line?)'
                        WHEN _kind <> 'OBJECT'
                        THEN 'valid JSON but not an object: ' || _kind END
                       AS _malformed,
                   CASE WHEN _kind = 'OBJECT'
                        THEN json_extract_string(_json, {paths}) END AS _values
            FROM kinds
        )
        SELECT _source_line, _raw_record, _malformed,
               CASE WHEN _malformed IS NULL THEN _json END AS _json, {texts}
        FROM judged
    """)
    # Lazy: only quarantined rows keep their line in `_staged` (a record is one line, so a
    # row quarantined by a batch rule re-reads its line); good rows do not carry a copy.
    return TextRelation(JSONL_TEXT, "_raw_record", lazy_raw_record=True)
