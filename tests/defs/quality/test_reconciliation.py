"""pipelines/defs/quality/reconciliation.py: per-file row reconciliation, real DuckDB files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.quality import reconciliation as rec

from .contract import DAY, create_quarantine_table, create_raw_table, record_files, valid_row

FILE = "stripe/charges_2024-03.jsonl"


def _charges(n: int, file: str = FILE, day: date = DAY) -> list[dict]:
    return [
        valid_row(
            "stripe_charges",
            charge_id=f"ch_{file}_{i}",
            _source_file=file,
            _source_line=i + 1,
            _partition_date=day,
        )
        for i in range(n)
    ]


@pytest.fixture()
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        yield con


def test_file_that_adds_up_reconciles(con) -> None:
    create_raw_table(con, "stripe_charges", _charges(3))
    create_quarantine_table(con, "stripe", [{"_source_file": FILE, "_source_line": 5}])
    record_files(
        con,
        "stripe",
        [{"file_path": FILE, "rows_in_file": 4, "rows_loaded": 3, "rows_quarantined": 1}],
    )

    checked, mismatches = rec.file_row_mismatches(con, "stripe_charges", "stripe")

    assert (checked, mismatches) == (1, [])


def test_lost_rows_are_detected_per_file(con) -> None:
    other = "stripe/charges_2024-03b.jsonl"
    create_raw_table(con, "stripe_charges", _charges(2) + _charges(2, file=other))
    create_quarantine_table(con, "stripe", [])
    record_files(
        con,
        "stripe",
        [
            # The file had 4 rows; 3 were loaded by the manifest's account but only 2 are in raw.
            {"file_path": FILE, "rows_in_file": 4, "rows_loaded": 3, "rows_quarantined": 1},
            {"file_path": other, "rows_in_file": 2, "rows_loaded": 2, "rows_quarantined": 0},
        ],
    )

    checked, mismatches = rec.file_row_mismatches(con, "stripe_charges", "stripe")

    assert checked == 2
    (m,) = mismatches
    assert (m.file_path, m.rows_in_file, m.raw_rows, m.quarantine_rows) == (FILE, 4, 2, 0)
    assert m.problem == "rows in file != rows in raw + rows in quarantine + rows waiting"


def test_rows_of_days_not_loaded_yet_are_waiting_not_lost(con) -> None:
    # A daily run loaded one day of a three-day file; the other days' rows wait for their runs.
    create_raw_table(con, "stripe_charges", _charges(2))
    create_quarantine_table(con, "stripe", [])
    record_files(
        con,
        "stripe",
        [
            {
                "file_path": FILE,
                "rows_in_file": 6,
                "rows_loaded": 2,
                "rows_quarantined": 0,
                "rows_waiting": 4,
            }
        ],
    )

    assert rec.file_row_mismatches(con, "stripe_charges", "stripe") == (1, [])


def test_rows_from_a_file_unknown_to_the_manifest_are_detected(con) -> None:
    create_raw_table(con, "stripe_charges", _charges(1, file="stripe/ghost.jsonl"))
    record_files(con, "stripe", [])  # and no quarantine table: a clean source may not have one

    _, (m,) = rec.file_row_mismatches(con, "stripe_charges", "stripe")

    assert m.file_path == "stripe/ghost.jsonl" and m.status is None
    assert "missing in meta.load_manifest" in m.problem


def test_every_file_is_checked_whatever_its_days(con) -> None:
    # No run window any more (ingest is file-driven): an old file that no longer adds up
    # fails every run until it is fixed.
    old = "stripe/charges_2023.jsonl"
    create_raw_table(con, "stripe_charges", _charges(1, file=old, day=date(2023, 5, 1)))
    create_quarantine_table(con, "stripe", [])
    record_files(
        con,
        "stripe",
        [
            {
                "file_path": old,
                "rows_in_file": 9,
                "rows_loaded": 1,
                "rows_quarantined": 0,
                "min_partition_date": date(2023, 5, 1),
                "max_partition_date": date(2023, 5, 31),
            }
        ],
    )

    checked, (m,) = rec.file_row_mismatches(con, "stripe_charges", "stripe")
    assert checked == 1 and m.file_path == old
