"""Small helpers shared by the reconciliation checks: Markdown tables and failed results."""

from collections.abc import Sequence

import dagster as dg

MAX_ROWS_SHOWN = 20  # mismatches listed in a check's Markdown table


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table for check metadata: the first MAX_ROWS_SHOWN rows, then a count."""

    def cell(v: object) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows[:MAX_ROWS_SHOWN]]
    if len(rows) > MAX_ROWS_SHOWN:
        lines.append(f"\n… and {len(rows) - MAX_ROWS_SHOWN} more.")
    return "\n".join(lines)


def failed_result(key: dg.AssetKey, name: str, message: str) -> dg.AssetCheckResult:
    """A blocking failure that cannot even look at the data (e.g. a table is missing)."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=key,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=message,
        metadata={"error": dg.MetadataValue.text(message)},
    )
