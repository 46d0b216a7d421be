"""pipelines/defs/quality/window.py: which rows a check reads, in bounded batches."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.defs.quality.window import RunWindow, plan_batches, read_batches

from .contract import create_raw_table, valid_row

D = [date(2024, 3, 1) + timedelta(days=i) for i in range(6)]


def test_days_are_packed_whole_up_to_the_row_limit() -> None:
    counts = [(D[0], 40), (D[1], 40), (D[2], 30), (D[3], 150), (D[4], 10), (D[5], 10)]

    assert plan_batches(counts, max_rows=100) == [
        (D[0], D[1]),
        (D[2], D[2]),
        (D[3], D[3]),
        (D[4], D[5]),
    ]


def test_rows_without_a_day_get_their_own_batch() -> None:
    assert plan_batches([(D[0], 5), (None, 2)], max_rows=100) == [(D[0], D[0]), (None, None)]
    assert plan_batches([], max_rows=100) == []


def _table(path: Path, run_started: datetime) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    rows = [
        valid_row(
            "support_tickets",
            ticket_id=f"T-{i}",
            _source_line=i + 2,
            _partition_date=day,
            _loaded_at=run_started - timedelta(days=1),
        )
        for i, day in enumerate(D)
    ]
    # A reference-style row this run loaded, stamped with the load date (outside the window).
    rows.append(
        valid_row(
            "support_tickets",
            ticket_id="T-new",
            _source_line=99,
            _partition_date=date(2024, 4, 1),
            _loaded_at=run_started,
        )
    )
    create_raw_table(con, "support_tickets", rows)
    return con


def test_reads_the_run_partitions_plus_rows_the_run_loaded(tmp_path: Path) -> None:
    started = datetime(2024, 4, 1, 2, 0)
    con = _table(tmp_path / "b.duckdb", started)
    window = RunWindow(D[1], D[3], run_started_at=started)

    frames = list(
        read_batches(
            con, "raw.support_tickets", ["ticket_id", "_partition_date"], window, max_rows=2
        )
    )

    assert [sorted(f["ticket_id"]) for f in frames] == [["T-1", "T-2"], ["T-3", "T-new"]]
    assert list(frames[0].columns) == ["ticket_id", "_partition_date"]


def test_run_without_partitions_reads_the_latest_day(tmp_path: Path) -> None:
    con = _table(tmp_path / "b.duckdb", datetime(2024, 4, 1, 2, 0))

    (frame,) = read_batches(con, "raw.support_tickets", None, RunWindow(None, None))

    assert list(frame["ticket_id"]) == ["T-new"]
    assert "requester_email" in frame.columns


def test_empty_window_still_yields_an_empty_frame_with_columns(tmp_path: Path) -> None:
    con = _table(tmp_path / "b.duckdb", datetime(2024, 4, 1, 2, 0))

    (frame,) = read_batches(
        con, "raw.support_tickets", ["ticket_id"], RunWindow(date(2025, 1, 1), date(2025, 1, 2))
    )

    assert frame.empty and list(frame.columns) == ["ticket_id"]
