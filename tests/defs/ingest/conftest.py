"""A landing zone and build database per test, and helpers to land fixtures and query.

Fixtures live in tests/fixtures/<source>/: tiny files in each system's native format, with
one messy row per rule (each test names the line it expects where).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.defs.ingest.loader import LoadResult, load_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# The run's wall clock: dates after 2026-11-22 are `future_date`.
NOW = datetime(2026, 11, 22, 3, 0)
START = date(2020, 1, 1)


@dataclass
class Warehouse:
    """A tmp landing dir + build.duckdb, loaded with the same clock and settings every time."""

    landing: Path
    db: Path

    def land(
        self,
        source: str,
        fixture: str | None = None,
        *,
        as_name: str | None = None,
        data: str | bytes | None = None,
    ) -> Path:
        """Copy tests/fixtures/<source>/<fixture> (or write `data`) to landing/<source>/."""
        name = as_name or fixture
        assert name, "give a fixture name or as_name"
        target = self.landing / source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            shutil.copyfile(FIXTURES / source / (fixture or name), target)
        elif isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data, encoding="utf-8")
        return target

    def load(self, source: str, **kwargs: Any) -> LoadResult:
        kwargs.setdefault("now", NOW)
        kwargs.setdefault("start_date", START)
        kwargs.setdefault("reporting_currency", "USD")
        return load_source(source, self.landing, self.db, **kwargs)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        assert len(rows) == 1, rows
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def reasons(self, source: str) -> dict[int, str]:
        """quarantine.<source> as {line: reason_code}."""
        return dict(self.rows(f"SELECT _source_line, reason_code FROM quarantine.{source}"))

    def manifest(self, source: str) -> dict[str, dict[str, Any]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            cur = con.execute(
                "SELECT * FROM meta.load_manifest WHERE source = ? ORDER BY file_path", [source]
            )
            names = [d[0] for d in cur.description]
            return {r[1]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture()
def wh(tmp_path: Path) -> Warehouse:
    landing = tmp_path / "landing"
    landing.mkdir()
    return Warehouse(landing=landing, db=tmp_path / "warehouse" / "build.duckdb")


def fixture_records(source: str, name: str) -> int:
    """Records in a fixture file: non-empty lines, minus the header for CSV."""
    path = FIXTURES / source / name
    lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    return len(lines) - (1 if path.suffix in (".csv", ".tsv", ".txt") else 0)
