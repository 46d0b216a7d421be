"""A file mostly quarantined stops the run before dbt, with a message that points at the fix.

A forgotten `timestamp_format` quarantined all 69,659 rows of a file as `invalid_timestamp`,
and the run went on to fail at the first mart check ("customer_segments gx_critical ... 0
rows") without saying why. Now, after each source's ingest, every loaded file of that source
whose quarantined share is above `SEGMENTS_MAX_QUARANTINE_SHARE` (default 0.20) fails the
ingest step, so dbt and the publish never start. The message names per file: the count and
share, the top reasons with one raw example each, and the likely fix (for a generic source,
the mapping.yml key and, for a timestamp, a format that reads the example).

What counts:

- every loaded file of the source, not only those this run loaded: the stop lasts until the
  file is fixed (a changed file or mapping.yml is read again), retracted (`segments unload`),
  or the setting is raised;
- reasons that say nothing about how the file is read are not counted: `duplicate_id` (an
  export overlapping an earlier one), `before_start_date` (SEGMENTS_START_DATE, on purpose)
  and `orphan_refund` (refunds whose sale is in another file);
- files of fewer than MIN_ROWS rows are exempt: a handful of bad rows in a tiny file is a
  share without meaning (the bad-input corpus quarantines whole 3-row files on purpose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.lib.duck import table_exists

from .manifest import LOADED, TABLE

MIN_ROWS = 20
NOT_COUNTED = ("duplicate_id", "before_start_date", "orphan_refund")
TOP_REASONS = 3
MAX_FILES_NAMED = 5
MAX_EXAMPLE_CHARS = 160

# Formats tried on a timestamp that did not parse, to suggest one that reads it.
CANDIDATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%y %H:%M",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d-%m-%Y",
)


@dataclass(frozen=True)
class Reason:
    code: str
    rows: int
    line: int | None
    detail: str | None
    raw: str | None


@dataclass(frozen=True)
class HeavyFile:
    path: str  # relative to the landing dir
    rows_in_file: int
    reasons: tuple[Reason, ...] = field(default_factory=tuple)  # most rows first

    @property
    def quarantined(self) -> int:
        return sum(r.rows for r in self.reasons)

    @property
    def share(self) -> float:
        return self.quarantined / self.rows_in_file if self.rows_in_file else 0.0


def heavy_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    quarantine_table: str,
    max_share: float,
    min_rows: int = MIN_ROWS,
) -> list[HeavyFile]:
    """Loaded files of `source` whose counted quarantined share is above `max_share`."""
    schema, table = quarantine_table.split(".")
    if max_share >= 1.0 or not table_exists(con, schema, table):
        return []
    not_counted = ", ".join(f"'{r}'" for r in NOT_COUNTED)
    rows = con.execute(
        f"""
        WITH files AS (
            SELECT file_path, rows_in_file FROM {TABLE}
            WHERE source = ? AND status = '{LOADED}' AND rows_in_file >= ?
        ), q AS (
            SELECT _source_file, reason_code, count(*) AS n,
                   min(_source_line) AS line,
                   arg_min(reason_detail, _source_line) AS detail,
                   arg_min(raw_record, _source_line) AS raw
            FROM {quarantine_table}
            WHERE reason_code NOT IN ({not_counted})
              AND _source_file IN (SELECT file_path FROM files)
            GROUP BY ALL
        )
        SELECT f.file_path, f.rows_in_file, q.reason_code, q.n, q.line, q.detail, q.raw
        FROM files f JOIN q ON q._source_file = f.file_path
        ORDER BY f.file_path, q.n DESC, q.reason_code
        """,
        [source, max(min_rows, 1)],
    ).fetchall()
    by_file: dict[str, tuple[int, list[Reason]]] = {}
    for path, in_file, code, n, line, detail, raw in rows:
        by_file.setdefault(path, (in_file, []))[1].append(Reason(code, n, line, detail, raw))
    out = [HeavyFile(p, n, tuple(reasons)) for p, (n, reasons) in by_file.items()]
    return [f for f in out if f.share > max_share]


def _value_in(detail: str | None) -> str | None:
    """The quoted value of a reason_detail such as `InvoiceDate='19970101' is not ...`."""
    m = re.search(r"='(.*?)' is ", detail or "")
    return m.group(1) if m else None


def _format_that_reads(value: str) -> str | None:
    for fmt in CANDIDATE_FORMATS:
        try:
            datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        return fmt
    return None


def _generic_mapping(path: str, landing_dir: Path):
    """The mapping of a generic file (`generic/<name>/<file>`), or None if unreadable now."""
    from .mapping import load_mapping
    from .spec import IngestError

    parts = path.split("/")
    if len(parts) < 3:
        return None
    try:
        return load_mapping(landing_dir / parts[0] / parts[1], landing_dir)
    except (IngestError, OSError):
        return None


def likely_fix(source: str, path: str, reason: Reason, landing_dir: Path) -> str:
    """One line: what most likely makes these rows load."""
    value = _value_in(reason.detail)
    mapping = _generic_mapping(path, landing_dir) if source == "generic" else None
    where = mapping.path if mapping is not None else None
    if reason.code == "invalid_timestamp" and value is not None:
        guess = _format_that_reads(value)
        set_it = (
            f"set timestamp_format: '{guess}' (it reads this value)"
            if guess
            else "set timestamp_format to the format the file uses"
        )
        if where is not None:
            fmts = " or ".join(f"'{f}'" for f in mapping.timestamp_formats)
            if fmts:
                return (
                    f"timestamp '{value}' does not match timestamp_format {fmts} in {where}; "
                    f"{set_it}."
                )
            return f"timestamp '{value}' is not ISO 8601; in {where} {set_it}."
        return f"timestamp '{value}' is not in the format this source's export uses."
    if reason.code == "future_date" and where is not None:
        return (
            f"dates after the run date: day and month swapped in timestamp_format, or the "
            f"wrong column mapped as columns.timestamp in {where}?"
        )
    if reason.code == "missing_required" and where is not None:
        return (
            f"{reason.detail}: check that {where} maps the right column (columns.*); if these "
            "lines truly lack it (guest orders without a customer id), raise "
            "SEGMENTS_MAX_QUARANTINE_SHARE."
        )
    if reason.code in ("invalid_amount", "invalid_value") and where is not None:
        return (
            f"{reason.detail}: check that {where} maps the right column (columns.*) and the "
            "delimiter the file uses."
        )
    if reason.code == "unknown_currency" and where is not None:
        return (
            f"{reason.detail}: map columns.currency to the column of ISO codes, or set a fixed "
            f"`currency:` in {where}."
        )
    if reason.code == "missing_required":
        return f"{reason.detail}: is this the export the {source} source expects (README)?"
    return f"{reason.detail or reason.code}: fix the export, or see the rows listed below."


def message(source: str, files: list[HeavyFile], landing_dir: Path, max_share: float) -> str:
    """The one-screen message that fails the ingest step."""
    lines = [
        f"{len(files)} {source} file(s) mostly quarantined (more than "
        f"SEGMENTS_MAX_QUARANTINE_SHARE={max_share:.0%} of their rows); the run stops "
        "before dbt and publishes nothing:"
    ]
    for f in files[:MAX_FILES_NAMED]:
        lines.append(
            f"  {f.path}: {f.quarantined:,} of {f.rows_in_file:,} rows ({f.share:.0%}) quarantined"
        )
        for r in f.reasons[:TOP_REASONS]:
            raw = (r.raw or "").replace("\n", " ")
            if len(raw) > MAX_EXAMPLE_CHARS:
                raw = raw[: MAX_EXAMPLE_CHARS - 1] + "…"
            lines.append(f"    {r.code}: {r.rows:,} rows, e.g. line {r.line}: {raw}")
            lines.append(f"      fix: {likely_fix(source, f.path, r, landing_dir)}")
        if len(f.reasons) > TOP_REASONS:
            lines.append(f"    ... and {len(f.reasons) - TOP_REASONS} other reason(s)")
    if len(files) > MAX_FILES_NAMED:
        lines.append(f"  ... and {len(files) - MAX_FILES_NAMED} more file(s)")
    first = files[0].path
    lines.append(
        f"  Every row: `segments quarantine --file {first}`. After the fix re-run `segments "
        "run` (a changed file or mapping.yml is read again); or retract the file with "
        f"`segments unload {first}`, or raise SEGMENTS_MAX_QUARANTINE_SHARE."
    )
    return "\n".join(lines)
