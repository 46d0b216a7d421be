"""pipelines/defs/ingest/share.py: a file mostly quarantined, named with the likely fix."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.defs.ingest import share
from pipelines.defs.ingest.loader import load_source

NOW = datetime(2026, 11, 22, 3, 0)
START = date(2020, 1, 1)
WRONG = 'timestamp_format: "%Y-%m-%d %H:%M:%S"\n'
MAPPING = """\
{fmt}currency: USD
columns:
  customer_id: customer
  timestamp: date
  quantity: qty
  amount: amount
"""


def cdnow_csv(folder: Path, n: int, bad_every: int = 0) -> None:
    """A CDNOW-shaped export: customer, date as 20240101, quantity, amount. Every
    `bad_every`-th line (none for 0) has an amount that is not a number."""
    lines = ["customer,date,qty,amount"]
    for i in range(n):
        day = date(2024, 1, 1) + timedelta(days=i % 60)
        amount = "n/a" if bad_every and i % bad_every == 0 else f"{10 + i % 7}.50"
        lines.append(f"{i % 50:05d},{day:%Y%m%d},1,{amount}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cdnow.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(landing: Path, db: Path) -> list[share.HeavyFile]:
    load_source("generic", landing, db, now=NOW, start_date=START, reporting_currency="USD")
    with duckdb.connect(str(db), read_only=True) as con:
        return share.heavy_files(con, "generic", "quarantine.generic", 0.20)


def test_wrong_timestamp_format_names_file_count_reason_example_and_fix(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "generic" / "cdnow"
    cdnow_csv(folder, 300)
    (folder / "mapping.yml").write_text(MAPPING.format(fmt=WRONG), encoding="utf-8")

    heavy = load(tmp_path / "landing", tmp_path / "build.duckdb")

    assert [(f.path, f.rows_in_file, f.quarantined) for f in heavy] == [
        ("generic/cdnow/cdnow.csv", 300, 300)
    ]
    text = share.message("generic", heavy, tmp_path / "landing", 0.20)
    lines = text.splitlines()
    assert len(lines) <= 12, text  # one screen
    assert "SEGMENTS_MAX_QUARANTINE_SHARE=20%" in lines[0]
    assert "generic/cdnow/cdnow.csv: 300 of 300 rows (100%) quarantined" in text
    assert "invalid_timestamp: 300 rows, e.g. line 2: 00000,20240101,1,10.50" in text
    assert (
        "fix: timestamp '20240101' does not match timestamp_format '%Y-%m-%d %H:%M:%S' in "
        "generic/cdnow/mapping.yml; set timestamp_format: '%Y%m%d' (it reads this value)."
    ) in text
    assert "segments quarantine --file generic/cdnow/cdnow.csv" in text

    # Fixed mapping: the file is read again (its reader fingerprint changed), nothing stops.
    (folder / "mapping.yml").write_text(MAPPING.format(fmt='timestamp_format: "%Y%m%d"\n'))
    assert load(tmp_path / "landing", tmp_path / "build.duckdb") == []


def test_share_at_or_below_the_setting_and_small_files_do_not_stop(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "generic" / "shop"
    cdnow_csv(folder, 100, bad_every=5)  # 20 of 100 bad amounts: exactly 20%, not above
    (folder / "mapping.yml").write_text(MAPPING.format(fmt='timestamp_format: "%Y%m%d"\n'))
    assert load(tmp_path / "landing", tmp_path / "build.duckdb") == []

    small = tmp_path / "small"
    cdnow_csv(small / "generic" / "shop", share.MIN_ROWS - 1, bad_every=1)  # all bad, 19 rows
    (small / "generic" / "shop" / "mapping.yml").write_text(
        MAPPING.format(fmt='timestamp_format: "%Y%m%d"\n')
    )
    assert load(small, tmp_path / "small.duckdb") == []


def test_reasons_that_say_nothing_about_reading_the_file_are_not_counted(tmp_path: Path) -> None:
    # A re-export overlapping an earlier file is mostly duplicate_id: not a reason to stop.
    folder = tmp_path / "landing" / "generic" / "shop"
    cdnow_csv(folder, 100)
    (folder / "mapping.yml").write_text(
        MAPPING.format(fmt='timestamp_format: "%Y%m%d"\n').replace(
            "  customer_id: customer\n", "  customer_id: customer\n  order_id: customer\n"
        )
    )
    assert load(tmp_path / "landing", tmp_path / "build.duckdb") == []
    overlap = (folder / "cdnow.csv").read_text() + "99999,20240301,1,5.00\n"
    (folder / "cdnow_reexport.csv").write_text(overlap)

    heavy = load(tmp_path / "landing", tmp_path / "build.duckdb")

    with duckdb.connect(str(tmp_path / "build.duckdb"), read_only=True) as con:
        reasons = dict(
            con.execute(
                "select reason_code, count(*) from quarantine.generic group by 1"
            ).fetchall()
        )
    assert reasons == {"duplicate_id": 100}
    assert heavy == []


def test_the_setting_reads_a_share_or_a_percentage_and_names_itself_when_wrong(
    monkeypatch,
) -> None:
    import pytest

    from pipelines import settings

    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "35%")
    assert settings.load().max_quarantine_share == 0.35
    monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", "0.5")
    assert settings.load().max_quarantine_share == 0.5
    monkeypatch.delenv("SEGMENTS_MAX_QUARANTINE_SHARE")
    assert settings.load().max_quarantine_share == settings.DEFAULT_MAX_QUARANTINE_SHARE
    for wrong in ("lots", "1.5", "-1"):
        monkeypatch.setenv("SEGMENTS_MAX_QUARANTINE_SHARE", wrong)
        with pytest.raises(settings.SettingsError, match="SEGMENTS_MAX_QUARANTINE_SHARE="):
            settings.load()
