"""A shop whose only data is one transactions CSV (the `generic` source, no CRM, no events):
exports can be acted on, because every row carries the shop's own customer ids.

One real `segments run` over an Online-Retail-shaped CSV, then exports with the default
consent rule (nothing is exported, and the run says why) and with the source's rule set to
`granted` (every member exported, each joined back to the CSV's CustomerID).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.exports import CONSENT_NAME, INDEX_NAME, refresh_exports
from tests.test_end_to_end import END, write_online_retail

SOURCE = "generic/online_retail"
FREE_SAMPLE = "99999"  # CustomerID whose only line is $0


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory):
    """One `segments run` over the CSV; keeps what it printed (module scope has no capsys)."""
    root = tmp_path_factory.mktemp("csv_shop")
    env = {
        "SEGMENTS_LANDING_DIR": str(root / "landing"),
        "SEGMENTS_WAREHOUSE_DIR": str(root / "warehouse"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DAGSTER_HOME": str(root / "warehouse" / "dagster_home"),
    }
    saved = {k: os.environ.get(k) for k in [*env, "SEGMENTS_EXPORT_CONSENT"]}
    os.environ.update(env)
    os.environ.pop("SEGMENTS_EXPORT_CONSENT", None)
    (root / "warehouse" / "dagster_home").mkdir(parents=True)
    try:
        folder = root / "landing" / "generic" / "online_retail"
        rows = write_online_retail(folder)
        # a customer whose only line costs nothing (a free sample): known, but no purchase
        free = {**rows[0], "InvoiceNo": "599999", "CustomerID": FREE_SAMPLE, "UnitPrice": "0"}
        with (folder / "online_retail.csv").open("a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=list(free)).writerow(free)
        rows.append(free)
        from pipelines.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["run", "--as-of", END.isoformat()]) == 0
        yield {"root": root, "rows": rows, "main": main, "run_output": out.getvalue()}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _file_customer_ids(rows: list[dict[str, str]]) -> set[str]:
    return {r["CustomerID"] for r in rows if r["CustomerID"]}


def test_run_summary_says_the_source_has_no_consent_data(ran):
    out = ran["run_output"]
    assert f"{SOURCE}: no consent data" in out
    assert f"SEGMENTS_EXPORT_CONSENT={SOURCE}=granted" in out


def test_default_exports_are_empty_and_say_why(ran):
    current = ran["root"] / "warehouse" / "exports" / "current"
    index = _csv(current / INDEX_NAME)
    assert index and all(r["rows"] == "0" for r in index)
    assert sum(int(r["left_out_no_consent"]) for r in index) > 0
    consent = {r["source"]: r for r in _csv(current / CONSENT_NAME)}
    customers = len(_file_customer_ids(ran["rows"]))
    assert consent[SOURCE]["customers"] == str(customers)
    assert consent[SOURCE]["without_consent_data"] == str(customers)
    assert consent[SOURCE]["rule"] == "crm"
    assert "no consent data" in consent[SOURCE]["note"]


def test_every_export_row_joins_back_to_the_files_customer_ids(ran, tmp_path):
    warehouse = ran["root"] / "warehouse"
    exports = refresh_exports(
        warehouse / "segments.duckdb", tmp_path / "exports", "USD", ((SOURCE, "granted"),)
    )
    file_ids = _file_customer_ids(ran["rows"])
    with duckdb.connect(str(warehouse / "build.duckdb"), read_only=True) as con:
        key_of = dict(
            con.execute(
                "select source_customer_id, customer_key from marts.customer_source_ids "
                "where source = ? and id_type = 'customer_id'",
                [SOURCE],
            ).fetchall()
        )
    assert set(key_of) == file_ids  # every CustomerID of the file is reachable
    rfm_rows = 0
    for segment, path, n in exports.files:
        rows = _csv(path)
        assert len(rows) == n
        for row in rows:
            ids = row["source_ids"].split(";")
            own = [i.removeprefix(f"{SOURCE}:") for i in ids if i.startswith(f"{SOURCE}:")]
            assert len(own) == 1, f"{path}: {row['customer_key']} has source ids {ids}"
            assert own[0] in file_ids, f"{path}: {own[0]} is not a CustomerID of the CSV"
            assert key_of[own[0]] == row["customer_key"]
            assert row["has_marketing_consent"] == "true"
            assert row["consent_basis"] == f"rule:{SOURCE}"
        if segment.family == "rfm":
            rfm_rows += n
    # every customer with an RFM score is in exactly one RFM segment file
    with duckdb.connect(str(warehouse / "segments.duckdb"), read_only=True) as con:
        scored = con.execute(
            "select count(*) from customer_segments where rfm_segment is not null"
        ).fetchone()[0]
    assert rfm_rows == scored > 0
    assert exports.consent_notes == [
        f"{SOURCE}: no consent data for its {len(file_ids)} customers (no CRM contact records "
        "their marketing consent); rule 'granted' (SEGMENTS_EXPORT_CONSENT) counts them as "
        "consenting."
    ]


def test_segments_export_with_the_rule_set_exports_the_segment(ran, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMENTS_EXPORT_CONSENT", f"{SOURCE}=granted")
    target = tmp_path / "regular.csv"
    code = ran["main"](
        ["export", "--segment", "regular", "--family", "value_tier", "--output", str(target)]
    )
    assert code == 0
    rows = _csv(target)
    assert rows and all(r["source_ids"].startswith(f"{SOURCE}:") for r in rows)
    assert "no consent data" in capsys.readouterr().out


def test_published_bi_file_carries_the_non_personal_ids(ran):
    with duckdb.connect(str(ran["root"] / "warehouse" / "segments.duckdb"), read_only=True) as con:
        ids = {
            i
            for (i,) in con.execute(
                "select source_customer_id from customer_source_ids where source = ?", [SOURCE]
            ).fetchall()
        }
    assert ids == _file_customer_ids(ran["rows"])


def test_a_customer_whose_only_line_is_zero_is_a_prospect(ran):
    with duckdb.connect(str(ran["root"] / "warehouse" / "build.duckdb"), read_only=True) as con:
        row = con.execute(
            "select f.orders_count, f.net_revenue, s.lifecycle_status, s.rfm_segment, "
            "s.purchase_recency_window from marts.customer_source_ids i "
            "join marts.customer_segments s using (customer_key) "
            "join marts.customer_facts f using (customer_key, as_of_date) "
            "where i.source = ? and i.source_customer_id = ?",
            [SOURCE, FREE_SAMPLE],
        ).fetchall()
    assert row == [(0, 0, "prospect", None, "never")]
