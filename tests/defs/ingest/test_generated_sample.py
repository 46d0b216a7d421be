"""Every reader on the sample generator's output (pipelines/generate): the formats the
generator writes are the formats the readers read, and exactly the rows it breaks on purpose
end in quarantine."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest.loader import SOURCES, load_source

# Regression: imported with pytest.importorskip, so a broken generator became a skip.
from pipelines.generate import generate

END = date(2024, 6, 30)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sample")
    summary = generate(root / "landing", customers=80, days=60, seed=11, end_date=END)
    db = root / "build.duckdb"
    for source in SOURCES:
        load_source(
            source,
            root / "landing",
            db,
            now=datetime.combine(END + timedelta(days=1), datetime.min.time()),
            start_date=summary.start_date,
            reporting_currency="USD",
        )
    return summary, db


def counts(db: Path) -> dict[str, tuple[int, int, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("""
            SELECT source, sum(rows_in_file), sum(rows_loaded), sum(rows_quarantined)
            FROM meta.load_manifest WHERE status = 'loaded' GROUP BY ALL
        """).fetchall()
    return {r[0]: tuple(int(v) for v in r[1:]) for r in rows}


def test_every_generated_file_loads(sample) -> None:
    _, db = sample
    with duckdb.connect(str(db), read_only=True) as con:
        assert (
            con.execute(
                "SELECT file_path, status FROM meta.load_manifest WHERE status <> 'loaded'"
            ).fetchall()
            == []
        )


def test_rows_broken_on_purpose_are_exactly_the_quarantined_rows(sample) -> None:
    summary, db = sample
    expected: dict[str, tuple[int, int]] = {}
    for name, rows in summary.rows.items():
        source = name.split("/")[0]  # "generic/pos" lands in the generic source
        total, bad = expected.get(source, (0, 0))
        expected[source] = (total + rows, bad + summary.bad_rows.get(name, 0))
    for source, (in_file, loaded, quarantined) in counts(db).items():
        assert (in_file, loaded + quarantined) == (expected[source][0],) * 2, source
        assert quarantined == expected[source][1], source
