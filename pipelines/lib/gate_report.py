"""A failed gate (a dbt test, a GX check) in words a user can act on: which check, how many
rows, which landed file(s), and up to three example rows.

Both kinds of gate put the same text into their Dagster asset check evaluation (description,
and the metadata entry `GATE_FAILURE_KEY`), so the CLI's run summary and `segments status`
print it the same way: one headline line per failure, then up to `MAX_EXAMPLES` lines, each
starting with `e.g.`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

GATE_FAILURE_KEY = "gate_failure"
MAX_EXAMPLES = 3
MAX_FILES = 3
MAX_VALUE_CHARS = 40
MAX_ROW_CHARS = 220
LINEAGE = ("_source_file", "_source_line")
# Bookkeeping columns that say nothing about why a row failed.
HIDDEN = frozenset({"_loaded_at", "_partition_date"})


@dataclass(frozen=True)
class GateFailure:
    """One failed gate: what failed (`subject`, e.g. `dbt test unique_x on staging/y
    (error)`), what it found (`detail`: count, files, what to do) and example rows."""

    subject: str
    detail: str
    examples: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        return f"{self.subject}: {self.detail}"

    def text(self) -> str:
        """Headline and examples: the dbt step's failure message lists these."""
        return "\n".join([self.headline, *(f"  e.g. {e}" for e in self.examples)])

    def check_text(self) -> str:
        """Detail and examples: an asset check's description (the check names the subject)."""
        return "\n".join([self.detail, *(f"  e.g. {e}" for e in self.examples)])


def _value(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        shown = f"{v:.6g}"
    elif isinstance(v, Decimal | date | datetime):
        shown = str(v)
    else:
        shown = str(v).replace("\n", "\\n").replace("\r", "\\r")
    return shown if len(shown) <= MAX_VALUE_CHARS else shown[: MAX_VALUE_CHARS - 1] + "…"


def format_row(columns: Sequence[str], row: Sequence[object]) -> str:
    """`file line N: col=value, ...` (the lineage first when the row has it), cut to one
    short line."""
    values = dict(zip(columns, row, strict=False))
    where = ""
    if values.get("_source_file") is not None:
        where = str(values["_source_file"])
        if values.get("_source_line") is not None:
            where += f" line {values['_source_line']}"
        where += ": "
    body = ", ".join(
        f"{c}={_value(v)}" for c, v in values.items() if c not in HIDDEN and c not in LINEAGE
    )
    line = where + body
    return line if len(line) <= MAX_ROW_CHARS else line[: MAX_ROW_CHARS - 1] + "…"


def files_phrase(files: Sequence[tuple[str | None, int, int | None]], unit: str = "row") -> str:
    """`files: a.csv (2 rows, first line 5), b.csv (1 row, line 9)` for (file, rows, first
    line) triples, most rows first; '' when there are none."""
    if not files:
        return ""
    parts = []
    for name, n, line in list(files)[:MAX_FILES]:
        count = f"{n:,} {unit}{'' if n == 1 else 's'}"
        where = "" if line is None else (f", line {line}" if n == 1 else f", first line {line}")
        parts.append(f"{name or '(no file)'} ({count}{where})")
    more = f" and {len(files) - MAX_FILES} more" if len(files) > MAX_FILES else ""
    return "files: " + ", ".join(parts) + more


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
