"""pipelines/defs/ingest/loader.py (+ landing.py, tables.py, manifest.py): windows, the load
manifest, re-drops, re-runs, bad files. Mostly on the Shopify fixture, whose good orders fall
on 2024-03-04, -05 and -07."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from pipelines.defs.ingest.loader import load_source, partitions_touched_by_new_files
from pipelines.defs.ingest.spec import IngestError

from .conftest import FIXTURES, NOW, START, Warehouse

SHOPIFY = "orders_export_2024-03.csv"
RAW = "SELECT * EXCLUDE (_loaded_at) FROM raw.shopify_orders ORDER BY _source_file, _source_line"
QUARANTINE = (
    "SELECT * EXCLUDE (_loaded_at) FROM quarantine.shopify ORDER BY _source_file, _source_line"
)


def days(start: date, end: date) -> list[tuple[date, date]]:
    return [(start + timedelta(i), start + timedelta(i + 1)) for i in range((end - start).days)]


def test_redrop_under_a_new_name_loads_nothing(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    before = wh.rows(RAW), wh.rows(QUARANTINE)
    wh.land("shopify", SHOPIFY, as_name="orders_export_2024-03 (1).csv")
    result = wh.load("shopify")
    assert {f.path: f.status for f in result.files}["shopify/orders_export_2024-03 (1).csv"] == (
        f"duplicate_of:shopify/{SHOPIFY}"
    )
    assert result.duplicates_skipped == 1 and result.rows_loaded == 5
    assert (wh.rows(RAW), wh.rows(QUARANTINE)) == before
    copy = wh.manifest("shopify")["shopify/orders_export_2024-03 (1).csv"]
    assert (copy["rows_loaded"], copy["rows_quarantined"]) == (0, 0)


def test_rerunning_a_window_gives_identical_rows(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify", date(2024, 3, 1), date(2024, 4, 1))
    first = wh.rows(RAW), wh.rows(QUARANTINE)
    again = wh.load("shopify", date(2024, 3, 1), date(2024, 4, 1))
    assert (wh.rows(RAW), wh.rows(QUARANTINE)) == first
    assert again.rows_loaded == 5


def test_daily_runs_load_the_same_rows_as_one_run_over_all_days(wh: Warehouse, tmp_path) -> None:
    # Regression: a NULL reason_code made min/max_partition_date NULL, so daily runs after
    # the first skipped the file and lost every other day's rows.
    wh.land("shopify", SHOPIFY)
    for start, end in days(date(2024, 3, 1), date(2024, 3, 10)):
        wh.load("shopify", start, end)
    daily = wh.rows(RAW), wh.rows(QUARANTINE)

    full = Warehouse(wh.landing, tmp_path / "full.duckdb")
    full.load("shopify")
    assert daily == (full.rows(RAW), full.rows(QUARANTINE))
    assert len(daily[0]) == 5


def test_rows_outside_the_window_wait_for_their_partition(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    result = wh.load("shopify", date(2024, 3, 5), date(2024, 3, 6))
    assert wh.rows("SELECT DISTINCT _partition_date FROM raw.shopify_orders") == [
        (date(2024, 3, 5),)
    ]
    assert result.partitions_touched == {date(2024, 3, 5)}
    m = wh.manifest("shopify")[f"shopify/{SHOPIFY}"]
    # 3 lines on 03-05 loaded; 2 lines (03-04, 03-07) wait; undated/out-of-range lines are
    # quarantined on first read; 03-05 quarantine lines belong to the window.
    assert (m["rows_loaded"], m["rows_waiting"]) == (3, 2)
    assert m["rows_in_file"] == m["rows_loaded"] + m["rows_quarantined"] + m["rows_waiting"]
    assert (m["min_partition_date"], m["max_partition_date"]) == (
        date(2024, 3, 4),
        date(2024, 3, 7),
    )

    wh.load("shopify", date(2024, 3, 7), date(2024, 3, 8))
    m = wh.manifest("shopify")[f"shopify/{SHOPIFY}"]
    assert (m["rows_loaded"], m["rows_waiting"]) == (4, 1)


def test_a_daily_run_skips_files_without_rows_in_its_window(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify", date(2024, 3, 5), date(2024, 3, 6))
    result = wh.load("shopify", date(2024, 4, 1), date(2024, 4, 2))
    assert [f.status for f in result.files] == ["unchanged"]
    assert wh.one("SELECT count(*) FROM raw.shopify_orders") == 3


def test_empty_file_is_not_ready_and_loads_once_it_has_content(wh: Warehouse) -> None:
    path = wh.land("shopify", as_name="orders_export_2024-04.csv", data="")
    result = wh.load("shopify")
    assert [(f.path, f.status) for f in result.files] == [
        ("shopify/orders_export_2024-04.csv", "not_ready")
    ]
    assert wh.manifest("shopify") == {}
    path.write_bytes((FIXTURES / "shopify" / SHOPIFY).read_bytes())
    assert wh.load("shopify").files_loaded == 1


def test_bad_file_fails_the_run_after_the_good_files_are_loaded(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.land("shopify", as_name="orders.xlsx.csv", data=b"PK\x03\x04\x14\x00\x06\x00binary")
    wh.land("shopify", as_name="notes.txt", data="not an export")
    with pytest.raises(IngestError) as err:
        wh.load("shopify")
    assert set(err.value.failures) == {"shopify/orders.xlsx.csv", "shopify/notes.txt"}
    assert "shopify/orders.xlsx.csv: the file is a ZIP archive" in str(err.value)
    assert "shopify/notes.txt: shopify files must end in .csv" in str(err.value)
    assert err.value.result.rows_loaded == 5
    assert wh.one("SELECT count(*) FROM raw.shopify_orders") == 5
    statuses = {p: m["status"] for p, m in wh.manifest("shopify").items()}
    assert statuses == {
        f"shopify/{SHOPIFY}": "loaded",
        "shopify/orders.xlsx.csv": "failed",
        "shopify/notes.txt": "failed",
    }


def test_changed_file_replaces_its_rows_of_the_window(wh: Warehouse) -> None:
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify", date(2024, 3, 1), date(2024, 4, 1))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("#1011")))
    wh.load("shopify", date(2024, 3, 1), date(2024, 4, 1))
    assert wh.one("SELECT count(*) FROM raw.shopify_orders WHERE order_name = '#1011'") == 0
    assert wh.one("SELECT count(*) FROM raw.shopify_orders") == 4


def test_same_order_in_a_later_file_is_a_duplicate(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    text = (FIXTURES / "shopify" / SHOPIFY).read_text().splitlines()
    wh.land("shopify", as_name="orders_again.csv", data="\n".join([text[0], text[-1]]) + "\n")
    # A day later: the first file was seen first, so it keeps the order (re-read here, as
    # the unbounded window covers its rows, it must decide the same way).
    wh.load("shopify", now=datetime(2026, 11, 23, 3, 0))
    assert wh.rows(
        "SELECT _source_line, reason_code, reason_detail FROM quarantine.shopify "
        "WHERE _source_file = 'shopify/orders_again.csv'"
    ) == [(2, "duplicate_id", f"Name=#1011 already in shopify/{SHOPIFY} line 16")]


def test_partitions_touched_by_new_files(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    kwargs = {
        "now": datetime(2026, 11, 22),
        "start_date": date(2020, 1, 1),
        "reporting_currency": "USD",
    }
    new = partitions_touched_by_new_files("shopify", wh.landing, wh.db, **kwargs)
    assert new == {date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 7)}
    assert not wh.db.exists()  # the sensor helper never creates the warehouse
    wh.load("shopify")
    assert partitions_touched_by_new_files("shopify", wh.landing, wh.db, **kwargs) == set()


def test_unknown_source_is_a_value_error(wh: Warehouse) -> None:
    with pytest.raises(ValueError, match="unknown source 'woo'"):
        load_source("woo", wh.landing, wh.db, None, None)


def test_build_database_is_closed_after_the_load(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    # Another writer can open it at once (DuckDB allows one writer per file).
    with duckdb.connect(str(wh.db)) as con:
        con.execute("CREATE TABLE meta.probe AS SELECT 1 AS x")


@pytest.mark.parametrize(
    ("source", "fixtures"),
    [
        ("shopify", [SHOPIFY]),
        ("stripe", ["charges_2024-03.jsonl"]),
        ("paypal", ["activity_2024-03.csv"]),
        ("events", ["events_2024-03-05.jsonl"]),
        ("support", ["tickets_2024-03.csv"]),
        ("fx", ["rates_2024-03.csv"]),
        ("crm", ["contacts.csv"]),
        ("generic", ["pos/mapping.yml", "pos/sales_2024-03.csv"]),
    ],
)
def test_the_cheap_date_forecast_matches_what_the_load_touches(
    wh: Warehouse, source: str, fixtures: list[str]
) -> None:
    for name in fixtures:
        wh.land(source, name)
    kwargs = {"now": NOW, "start_date": START, "reporting_currency": "USD"}
    forecast = partitions_touched_by_new_files(source, wh.landing, wh.db, **kwargs)
    touched = wh.load(source).partitions_touched
    assert forecast == {d for d in touched if START <= d <= NOW.date()}
    assert forecast
