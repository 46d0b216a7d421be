"""The vocabulary every reader shares: what a source is, how one file is read, a row rule.

A reader module (shopify.py, stripe.py, ...) declares one `SourceSpec`: the raw table and its
typed columns, and a `plan` function that, for one landed file, returns a `ReadPlan` — the
file format, the SQL that types each column from the file's text, the partition date and the
ordered row rules. `loader.py` turns plans into vectorised DuckDB SQL; readers write no loops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any


class IngestError(Exception):
    """A landed file (or folder) cannot be read at all; the message names it and the fix.

    Nothing of that file is loaded. `load_source` collects these per file, loads the good
    files, then raises one `IngestError` naming every bad file (`failures` holds the parts).
    """

    def __init__(self, message: str, failures: Mapping[str, str] | None = None, result: Any = None):
        super().__init__(message)
        self.failures: dict[str, str] = dict(failures or {})
        # The LoadResult of the good files, when raised by load_source after loading them.
        self.result = result


@dataclass(frozen=True)
class RunContext:
    """Facts of one ingest run that row rules depend on."""

    run_date: date  # UTC date of the run's wall clock: later dates are `future_date`
    start_date: date  # SEGMENTS_START_DATE: earlier transaction dates are `before_start_date`
    reporting_currency: str  # fx files must carry `rate_to_<this>`
    loaded_at: datetime  # naive UTC, stamped on every row of the run


@dataclass(frozen=True)
class LandedFile:
    """One file in the landing zone. `rel` is its path relative to the landing dir, the
    value of `_source_file`; `options` carries reader settings (generic: the mapping)."""

    path: Path
    rel: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CsvFormat:
    """A delimited text file with one header line.

    `columns` are the headers the plan reads (matched case-insensitively, ignoring
    surrounding spaces); those in `required` must be present or the file fails. Optional
    columns that are absent read as NULL.
    """

    columns: tuple[str, ...]
    required: tuple[str, ...]
    delimiter: str = ","
    encoding: str = "utf-8"  # or "latin-1" (only where the source's settings say so)
    # Extra header validation (e.g. fx: the rate column must name the reporting currency).
    check_header: Callable[[list[str], str], None] | None = None


@dataclass(frozen=True)
class JsonLinesFormat:
    """One JSON object per line. `columns` maps a text label to a JSON path (`$.a.b`)."""

    columns: Mapping[str, str]
    encoding: str = "utf-8"  # JSON Lines is UTF-8 (RFC 8259)


@dataclass(frozen=True)
class Check:
    """A row rule: rows where `fails` (SQL) is true go to quarantine with `reason`.

    Rules are evaluated in plan order and the first failing rule names the reason, so put
    structural rules (missing, unparseable) before semantic ones (range, currency).
    `detail` is a SQL string expression naming the column and its value.
    """

    reason: str
    fails: str
    detail: str


@dataclass(frozen=True)
class ReadPlan:
    """How to turn one landed file into typed rows.

    `fields` are (raw column, SQL over the text columns) in raw-table order; text columns are
    referenced with `rules.src(label)`. `prepare` may wrap the text relation first (Shopify
    forward-fills order fields). `date_field` is the typed column whose UTC date is the row's
    partition (None: the load date, for reference data such as CRM contacts).
    """

    format: CsvFormat | JsonLinesFormat
    fields: tuple[tuple[str, str], ...]
    date_field: str | None
    checks: tuple[Check, ...]
    prepare: Callable[[str], str] | None = None

    @property
    def partition_date(self) -> str:
        """SQL over the typed columns: the row's partition."""
        return f"CAST({self.date_field} AS DATE)" if self.date_field else "_run_date"


@dataclass(frozen=True)
class OrphanRule:
    """Refund rows whose reference points at no known transaction are `orphan_refund`."""

    is_refund: str  # SQL over typed columns
    reference: str  # column holding the referenced transaction id
    target: str  # column of the referenced transactions
    label: str  # the reference column as the file names it, for reason_detail


@dataclass(frozen=True)
class UniqueKey:
    """Another column that must be unique across files (and within a file between different
    `entity` values): rows repeating it are `duplicate_id` naming where it was first seen.

    Shopify's `Id`: the lines of one order share it, a different order (Name) must not, so a
    re-export of the same orders under renamed Names is caught."""

    sql: str  # SQL over typed columns
    label: str  # the column as the file names it, for reason_detail
    entity: str  # SQL over typed columns: rows with the same entity may share the key
    entity_label: str  # the entity column as the file names it


@dataclass(frozen=True)
class SourceSpec:
    """One source system: its landed files, its raw table, and how to read a file."""

    name: str  # folder under the landing dir, and quarantine.<name>
    table: str  # raw.<table>
    description: str  # what, grain, origin: shown by Dagster as the asset description
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) of raw.<table>, lineage excluded
    plan: Callable[[LandedFile, RunContext], ReadPlan]
    extensions: tuple[str, ...]
    # Duplicate detection: SQL over typed columns; rows sharing a key with an earlier file
    # (or, when unique_within_file, an earlier line) are `duplicate_id`.
    key: str | None = None
    key_label: str | None = None  # the key as the file names it, for reason_detail
    unique_within_file: bool = True
    also_unique: tuple[UniqueKey, ...] = ()
    orphan: OrphanRule | None = None
    # Files to read, and per-file failures (e.g. a generic folder without mapping.yml).
    discover: Callable[[Path, str], tuple[list[LandedFile], dict[str, str]]] | None = None
    # Anything outside the file that changes how it parses (mapping.yml, reporting currency):
    # a different fingerprint makes a known file count as changed.
    fingerprint: Callable[[LandedFile, RunContext], str] | None = None

    @property
    def quarantine(self) -> str:
        return self.name
