"""pipelines/defs/ingest/unload.py (`segments unload`) and the reload rule of loader.py: rows
leave raw only when the user says so (a retraction, or a reload allowed to shrink)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipelines.defs.ingest.spec import IngestError
from pipelines.defs.ingest.unload import unload_file

from .conftest import Warehouse

SHOPIFY = "orders_export_2024-03.csv"
REL = f"shopify/{SHOPIFY}"
COUNTS = (
    "SELECT (SELECT count(*) FROM raw.shopify_orders WHERE _source_file = ?), "
    "(SELECT count(*) FROM quarantine.shopify WHERE _source_file = ?)"
)


def counts(wh: Warehouse, rel: str = REL) -> tuple[int, int]:
    return wh.one(COUNTS, [rel, rel])


def test_unload_retracts_the_rows_and_the_same_bytes_are_not_loaded_again(
    wh: Warehouse,
) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    loaded, quarantined = counts(wh)
    assert loaded > 0 and quarantined > 0

    result = unload_file(REL, wh.landing, wh.db)

    assert (result.raw_rows, result.quarantine_rows) == (loaded, quarantined)
    assert counts(wh) == (0, 0)
    entry = wh.manifest("shopify")[REL]
    assert (entry["status"], entry["rows_loaded"], entry["rows_quarantined"]) == ("unloaded", 0, 0)
    again = wh.load("shopify")
    assert [(f.path, f.status) for f in again.files] == [(REL, "unloaded")]
    assert counts(wh) == (0, 0)


def test_an_unloaded_file_loads_again_when_its_bytes_change_or_on_undo(wh: Warehouse) -> None:
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    before = counts(wh)
    unload_file(str(path), wh.landing, wh.db)  # a path to the file works as well

    unload_file(REL, wh.landing, wh.db, undo=True)
    assert [f.status for f in wh.load("shopify").files] == ["loaded"]
    assert counts(wh) == before

    unload_file(REL, wh.landing, wh.db)
    path.write_text(path.read_text() + "\n")  # new bytes: a new version of the file
    assert [f.status for f in wh.load("shopify").files] == ["loaded"]
    assert counts(wh) == before


def test_unload_of_a_deleted_file_removes_the_rows_it_left_behind(wh: Warehouse) -> None:
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    path.unlink()
    wh.load("shopify")
    assert counts(wh)[0] > 0  # a deleted (archived) file keeps its rows...
    unload_file(REL, wh.landing, wh.db)
    assert counts(wh) == (0, 0)  # ...until it is retracted


def test_retracting_the_first_file_lets_its_reexport_load(wh: Warehouse) -> None:
    # Regression: a re-export under renamed order names failed two dbt unique tests naming no
    # file, and deleting it did not help. Now its rows are duplicate_id naming the first file;
    # to keep the re-export instead, retract the first file and have the re-export re-judged.
    original = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    text = original.read_text().replace("#10", "SHOP-10")
    wh.land("shopify", as_name="reexport.csv", data=text)
    wh.load("shopify")
    reexport = "shopify/reexport.csv"
    details = wh.rows(
        "SELECT reason_detail FROM quarantine.shopify WHERE _source_file = ? "
        "AND reason_code = 'duplicate_id' AND starts_with(reason_detail, 'Id=')",
        [reexport],
    )
    assert details and all(f"already in {REL} line" in d for (d,) in details), details
    assert counts(wh, reexport)[0] == 0

    unload_file(REL, wh.landing, wh.db)
    unload_file(reexport, wh.landing, wh.db)
    unload_file(reexport, wh.landing, wh.db, undo=True)
    wh.load("shopify")
    assert counts(wh, reexport)[0] > 0
    assert wh.one("SELECT count(*) FROM raw.shopify_orders WHERE order_name LIKE '#10%'") == 0


def test_unload_of_an_unknown_path_names_it_and_the_closest_known(wh: Warehouse) -> None:
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    with pytest.raises(IngestError, match=r"shopify/orders\.csv: no such file .* Closest known"):
        unload_file("shopify/orders.csv", wh.landing, wh.db)


# --- the reload rule ---------------------------------------------------------------------


def test_a_file_rewritten_as_header_only_keeps_its_rows_unless_allowed(wh: Warehouse) -> None:
    # Regression: a loaded file rewritten as header-only removed its 22 rows from raw and from
    # the published data, while a deleted file kept its rows.
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    before = counts(wh)
    path.write_text(path.read_text().splitlines(keepends=True)[0])

    with pytest.raises(IngestError) as caught:
        wh.load("shopify")

    line = caught.value.failures[REL]
    assert line.startswith(f"{REL}: changed, and its new version would leave 0 of the ")
    assert "--allow-shrink" in line and "\n" not in line
    assert counts(wh) == before
    assert wh.manifest("shopify")[REL]["status"] == "loaded"  # still the loaded version

    result = wh.load("shopify", allow_shrink=True)
    assert [(f.status, f.rows_in_file) for f in result.files] == [("loaded", 0)]
    assert counts(wh) == (0, 0)


def test_a_reload_keeping_most_rows_needs_no_permission(wh: Warehouse) -> None:
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    loaded = counts(wh)[0]
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # one line less
    wh.load("shopify")
    assert loaded - 1 <= counts(wh)[0] <= loaded


def test_cli_unload_and_allow_shrink(wh: Warehouse, tmp_path: Path) -> None:
    """Through the real `segments` entry point, in another process."""
    path = wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    env = {
        **os.environ,
        "SEGMENTS_LANDING_DIR": str(wh.landing),
        "SEGMENTS_WAREHOUSE_DIR": str(wh.db.parent),
    }
    cli = [sys.executable, "-m", "pipelines.cli"]

    done = subprocess.run([*cli, "unload", REL], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{REL}: unloaded ") and "from quarantine.shopify" in done.stdout
    assert counts(wh) == (0, 0)

    missing = subprocess.run([*cli, "unload", "nope.csv"], env=env, capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.startswith("segments unload: nope.csv: no such file")
    assert path.exists()


def test_new_settings_that_quarantine_most_rows_are_not_a_shrinking_reload(
    wh: Warehouse,
) -> None:
    # The guard is about changed bytes: moving SEGMENTS_START_DATE past the file's dates is
    # the user's own choice, and re-judges the same bytes.
    wh.land("shopify", SHOPIFY)
    wh.load("shopify")
    assert counts(wh)[0] > 0
    result = wh.load("shopify", start_date=date(2025, 1, 1))
    assert [f.status for f in result.files] == ["loaded"]
    assert counts(wh)[0] == 0
