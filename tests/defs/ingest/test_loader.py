"""pipelines/defs/ingest/loader.py (+ landing.py, tables.py, manifest.py): file-driven loads,
the load manifest, re-drops, re-runs, bad files. Mostly on the Shopify fixture, whose good
orders fall on 2024-03-04, -05 and -07."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.defs.ingest import loader, stage
from pipelines.defs.ingest.loader import load_source
from pipelines.defs.ingest.spec import IngestError, ReadPlan

from .conftest import FIXTURES, Warehouse

SHOPIFY = "orders_export_2024-03.csv"
RAW = "SELECT * EXCLUDE (_loaded_at) FROM raw.shopify_orders ORDER BY _source_file, _source_line"
QUARANTINE = (
    "SELECT * EXCLUDE (_loaded_at) FROM quarantine.shopify ORDER BY _source_file, _source_line"
)


def _loaded(w: Warehouse, source: str) -> tuple[list[tuple], list[tuple], dict]:
    """What a load left: raw rows, quarantine rows and manifest rows, without load times
    (they differ between two warehouses loaded from the same files)."""
    order = "ORDER BY _source_file, _source_line"
    table = loader.get_spec(source).table
    manifest = {
        path: {c: v for c, v in row.items() if not c.endswith("_at")}
        for path, row in w.manifest(source).items()
    }
    return (
        w.rows(f"SELECT * EXCLUDE (_loaded_at) FROM raw.{table} {order}"),
        w.rows(f"SELECT * EXCLUDE (_loaded_at) FROM quarantine.{source} {order}"),
        manifest,
    )


def test_redrop_under_a_new_name_loads_nothing(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    before = wh.rows(RAW), wh.rows(QUARANTINE)
    wh.land("shopify", SHOPIFY, as_name="orders_export_2024-03 (1).csv")
    result = wh.load("shopify")
    assert {f.path: f.status for f in result.files}["shopify/orders_export_2024-03 (1).csv"] == (
        f"duplicate_of:shopify/{SHOPIFY}"
    )
    assert result.duplicates_skipped == 1 and result.rows_loaded == 0
    assert (wh.rows(RAW), wh.rows(QUARANTINE)) == before
    copy = wh.manifest("shopify")["shopify/orders_export_2024-03 (1).csv"]
    assert (copy["rows_loaded"], copy["rows_quarantined"]) == (0, 0)


def test_loading_again_reads_no_unchanged_file_and_keeps_every_row(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    first = wh.rows(RAW), wh.rows(QUARANTINE)
    again = wh.load("shopify")
    assert [f.status for f in again.files] == ["unchanged"]
    assert again.rows_loaded == 0
    assert (wh.rows(RAW), wh.rows(QUARANTINE)) == first


def test_files_loaded_one_run_at_a_time_equal_one_load_of_all(wh: Warehouse, tmp_path) -> None:
    # Regression (issue 10): loads are file-driven; the order in which files arrive must not
    # change the rows, whatever dates each file holds.
    text = (FIXTURES / "shopify" / SHOPIFY).read_text().splitlines(keepends=True)
    header, body = text[0], text[1:]
    first, second = body[: len(body) // 2], body[len(body) // 2 :]
    wh.land("shopify", as_name="a.csv", data=header + "".join(first))
    wh.load("shopify")
    wh.land("shopify", as_name="b.csv", data=header + "".join(second))
    wh.load("shopify")
    one_by_one = wh.rows(RAW), wh.rows(QUARANTINE)

    full = Warehouse(tmp_path / "landing_full", tmp_path / "full.duckdb")
    full.land("shopify", as_name="a.csv", data=header + "".join(first))
    full.land("shopify", as_name="b.csv", data=header + "".join(second))
    full.load("shopify")
    assert one_by_one == (full.rows(RAW), full.rows(QUARANTINE))


def test_loading_in_small_batches_equals_one_batch(wh: Warehouse, tmp_path) -> None:
    # Files are committed in batches of ~512 MB to bound memory; the batch size must not
    # change a row, a reason or a manifest count.
    text = (FIXTURES / "shopify" / SHOPIFY).read_text().splitlines(keepends=True)
    header, body = text[0], text[1:]
    parts = [body[i : i + 4] for i in range(0, len(body), 4)]
    for i, part in enumerate(parts):
        wh.land("shopify", as_name=f"part_{i}.csv", data=header + "".join(part))
    wh.land("shopify", as_name="again.csv", data=header + "".join(body[-2:]))
    wh.load("shopify", batch_bytes=1)  # every file its own batch
    batched = _loaded(wh, "shopify")

    whole = Warehouse(wh.landing, tmp_path / "whole.duckdb")
    whole.load("shopify")
    assert batched == _loaded(whole, "shopify")
    assert len(batched[0]) > 0 and len(batched[1]) > 0


def _split_fixture(wh: Warehouse, source: str, fixture: str, lines_per_file: int) -> None:
    """Land `fixture` whole and cut into files of `lines_per_file` records (CSV: each with
    the header), so orders, refunds and ids fall in different files and repeat across them."""
    text = (FIXTURES / source / fixture).read_text().splitlines(keepends=True)
    csv = fixture.endswith(".csv")
    header, body = (text[0], text[1:]) if csv else ("", text)
    stem, suffix = fixture.rsplit(".", 1)
    wh.land(source, fixture)
    for i in range(0, len(body), lines_per_file):
        part = header + "".join(body[i : i + lines_per_file])
        wh.land(source, as_name=f"{stem}_part{i:03d}.{suffix}", data=part)


@pytest.mark.parametrize(
    ("source", "fixture"),
    [
        ("shopify", SHOPIFY),
        ("stripe", "charges_2024-03.jsonl"),
        ("paypal", "activity_2024-03.csv"),
        ("events", "events_2024-03-05.jsonl"),
        ("support", "tickets_2024-03.csv"),
    ],
)
def test_small_files_judged_together_equal_each_file_judged_alone(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, fixture: str
) -> None:
    # Small files sharing a judging statement are judged in one statement (stage.Stager);
    # every window and join of a reader (Shopify's forward fill) must stay within a file.
    _split_fixture(wh, source, fixture, lines_per_file=3)
    monkeypatch.setattr(loader.duck, "threads", lambda con: 1)  # one worker: one group
    wh.load(source)
    together = _loaded(wh, source)

    monkeypatch.setattr(stage, "GROUP_MAX_BYTES", -1)  # every file judged on its own
    alone = Warehouse(wh.landing, tmp_path / "alone.duckdb")
    alone.load(source)
    assert together == _loaded(alone, source)
    assert len(together[0]) > 0 and len(together[1]) > 0


@pytest.mark.parametrize(
    ("source", "fixture"), [("shopify", SHOPIFY), ("stripe", "charges_2024-03.jsonl")]
)
def test_files_judged_by_parallel_workers_equal_one_file_at_a_time(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, fixture: str
) -> None:
    # Worker threads judge files concurrently (loader._stage_files); which worker finishes
    # first must not change a row, a duplicate's "already in" or a manifest count.
    _split_fixture(wh, source, fixture, lines_per_file=2)
    monkeypatch.setattr(stage, "GROUP_MAX_BYTES", -1)  # a statement per file, many to share
    monkeypatch.setattr(loader.duck, "threads", lambda con: 3)
    wh.load(source)
    parallel = _loaded(wh, source)

    monkeypatch.setattr(loader.duck, "threads", lambda con: 1)
    serial = Warehouse(wh.landing, tmp_path / "serial.duckdb")
    serial.load(source)
    assert parallel == _loaded(serial, source)
    assert any(r == "duplicate_id" for r in serial.reasons(source).values())


def test_a_file_duckdb_cannot_type_fails_alone_among_files_judged_together(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A DuckDB error while typing (a reader bug) fails the file at fault, named, and the
    # files judged in the same statement still load.
    spec = loader.get_spec("support")

    def plan(file, ctx) -> ReadPlan:  # type: ignore[no-untyped-def]
        p = spec.plan(file, ctx)
        fields = tuple(
            (name, f"CASE WHEN {expr} = 'T-BOOM' THEN error('reader bug') ELSE {expr} END")
            if name == "ticket_id"
            else (name, expr)
            for name, expr in p.fields
        )
        return dataclasses.replace(p, fields=fields)

    monkeypatch.setitem(loader.SOURCES, "support", dataclasses.replace(spec, plan=plan))
    header = "ticket_id,requester_email,created_at,type,status\n"
    for name, ticket in [("a.csv", "T-1"), ("b.csv", "T-BOOM"), ("c.csv", "T-3")]:
        row = f"{ticket},x@example.com,2024-03-05T10:00:00Z,question,open\n"
        wh.land("support", as_name=name, data=header + row)
    with pytest.raises(IngestError) as err:
        wh.load("support")
    assert set(err.value.failures) == {"support/b.csv"}
    assert "support/b.csv: DuckDB failed while typing its rows" in str(err.value)
    assert "support/a.csv" not in str(err.value)
    assert wh.rows("SELECT ticket_id FROM raw.support_tickets ORDER BY 1") == [("T-1",), ("T-3",)]


def test_a_file_loads_whole_whatever_days_it_holds(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    result = wh.load("shopify")
    assert wh.rows("SELECT DISTINCT _partition_date FROM raw.shopify_orders ORDER BY 1") == [
        (date(2024, 3, 4),),
        (date(2024, 3, 5),),
        (date(2024, 3, 7),),
    ]
    assert result.partitions_touched == {date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 7)}
    m = wh.manifest("shopify")[f"shopify/{SHOPIFY}"]
    assert (m["rows_loaded"], m["rows_waiting"]) == (5, 0)
    assert m["rows_in_file"] == m["rows_loaded"] + m["rows_quarantined"]
    assert (m["min_partition_date"], m["max_partition_date"]) == (
        date(2024, 3, 4),
        date(2024, 3, 7),
    )


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


def test_changed_file_replaces_its_rows(wh: Warehouse) -> None:
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("#1011")))
    wh.load("shopify")
    assert wh.one("SELECT count(*) FROM raw.shopify_orders WHERE order_name = '#1011'") == 0
    assert wh.one("SELECT count(*) FROM raw.shopify_orders") == 4


def test_same_order_in_a_later_file_is_a_duplicate(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    text = (FIXTURES / "shopify" / SHOPIFY).read_text().splitlines()
    wh.land("shopify", as_name="orders_again.csv", data="\n".join([text[0], text[-1]]) + "\n")
    # A day later: the first file was seen first, so it keeps the order.
    wh.load("shopify", now=datetime(2026, 11, 23, 3, 0))
    assert wh.rows(
        "SELECT _source_line, reason_code, reason_detail FROM quarantine.shopify "
        "WHERE _source_file = 'shopify/orders_again.csv'"
    ) == [(2, "duplicate_id", f"Name=#1011 already in shopify/{SHOPIFY} line 16")]


def test_unknown_source_is_a_value_error(wh: Warehouse) -> None:
    with pytest.raises(ValueError, match="unknown source 'woo'"):
        load_source("woo", wh.landing, wh.db)


def assert_writable_from_another_process(db: Path) -> None:
    probe = (
        "import duckdb, sys\n"
        "with duckdb.connect(sys.argv[1]) as con:\n"
        "    con.execute('CREATE OR REPLACE TABLE meta.probe AS SELECT 1 AS x')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{db} is still held by this process: {done.stderr[-800:]}"


def test_build_database_is_closed_after_the_load(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    # Another *process* can write it at once (DuckDB allows one writer process per file).
    # Regression: opening it again in this process proved nothing: DuckDB hands the same
    # process its already-open instance, so a leaked connection went unnoticed.
    assert_writable_from_another_process(wh.db)


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
def test_a_load_reports_the_days_its_rows_hold(
    wh: Warehouse, source: str, fixtures: list[str]
) -> None:
    # Formerly a check of the sensor's date pre-scan; there is no pre-scan any more (issue
    # 10): the load itself reports the UTC days it touched, for the Dagster UI.
    for name in fixtures:
        wh.land(source, name)
    touched = wh.load(source).partitions_touched
    assert touched
    assert all(isinstance(d, date) for d in touched)
