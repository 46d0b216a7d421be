"""`segments bench` at a tiny N, and the pieces that keep its comparison honest.

The benchmark is not a test; these check that it prints every row, that its memory figures
are the measured command's own, and that the peers compute what the product computes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from pipelines.bench import peers, workload
from pipelines.bench.measure import run_measured
from pipelines.bench.stages import classify_step

STAGE_KEYS = ("ingest", "dbt", "model", "checks", "publish")
PEER_KEYS = ("pandas_rfm", "polars_rfm", "duckdb_rfm_floor")
RATIO_KEYS = ("full_over_pandas", "full_over_duckdb_floor", "incremental_over_full")


# --- pure pieces, fast -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "as_of", "new_day"),
    [
        (date(2026, 11, 23), date(2026, 10, 31), date(2026, 11, 1)),
        (date(2026, 11, 2), date(2026, 10, 31), date(2026, 11, 1)),
        # on the 1st, today's partition is not complete: the new day is a month earlier
        (date(2026, 12, 1), date(2026, 10, 31), date(2026, 11, 1)),
    ],
)
def test_new_day_is_the_latest_complete_first_of_a_month(today, as_of, new_day):
    dates = workload.bench_dates(today, days=730)
    assert (dates.as_of, dates.new_day) == (as_of, new_day)
    assert dates.partitions == 730


def test_hold_back_moves_only_the_new_months_files(tmp_path):
    landing, held = tmp_path / "landing", tmp_path / "held"
    for rel in (
        "shopify/orders_export_2026-10.csv",
        "shopify/orders_export_2026-11.csv",
        "generic/pos/sales_2026-11.csv",
        "crm/contacts.csv",
        "fx/rates.csv",
    ):
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("x\n")

    moved = workload.hold_back_new_day(landing, held, date(2026, 11, 1))

    assert sorted(map(str, moved)) == [
        "generic/pos/sales_2026-11.csv",
        "shopify/orders_export_2026-11.csv",
    ]
    assert (landing / "shopify/orders_export_2026-10.csv").exists()
    assert (held / "generic/pos/sales_2026-11.csv").exists()


@pytest.mark.parametrize(
    ("prefixes", "checked", "stage"),
    [
        ({"raw"}, False, "ingest"),
        ({"staging", "marts"}, True, "dbt"),  # the dbt step also evaluates dbt tests
        ({"meta"}, False, "dbt"),
        (set(), True, "checks"),
        ({"published"}, False, "publish"),
    ],
)
def test_steps_are_staged_by_what_they_emit(prefixes, checked, stage):
    assert classify_step(prefixes, checked) == stage


def test_the_clv_model_step_is_its_own_stage():
    keys = frozenset({"marts/customer_predictions", "marts/clv_model_fits"})
    assert classify_step({"marts"}, True, keys) == "model"


def test_peak_memory_is_the_commands_own_not_the_harness(tmp_path):
    # Regression: a child forked from the (large) test process reported the parent's RSS.
    allocate = "b = bytearray(64 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    measured = run_measured(
        "alloc", [sys.executable, "-S", "-c", allocate], os.environ, tmp_path / "alloc.log"
    )
    assert measured.ok
    assert 64 * 2**20 <= measured.peak_rss_bytes < 110 * 2**20


def test_peers_give_tied_values_one_score(tmp_path):
    # 5 customers, all bought within the window; frequencies 1,1,1,2,3 tie on 1:
    # rank() = 1,1,1,4,5 → score 1 + floor(5 * (rank - 1) / 5) = 1,1,1,4,5.
    csv = tmp_path / "tx.csv"
    lines = ["customer_key,transaction_date,is_purchase,net_amount"]
    orders = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 3}
    for key, n in orders.items():
        lines += [f"{key},2026-10-{10 + i:02d},true,10.10" for i in range(n)]
    lines.append("e,2026-10-20,false,-5.00")  # a refund: changes monetary, not frequency
    csv.write_text("\n".join(lines) + "\n")
    expected_f = {"a": 1, "b": 1, "c": 1, "d": 4, "e": 5}
    for peer in peers.PEERS:
        out = tmp_path / f"{peer.key}.parquet"
        command = peers.peer_command(peer, csv, date(2026, 10, 31), 730, out)
        subprocess.run(command, check=True, capture_output=True)
        with duckdb.connect() as con:
            rows = con.execute(
                f"select customer_key, f_score, monetary from read_parquet('{out}') order by 1"
            ).fetchall()
        assert {k: f for k, f, _ in rows} == expected_f, peer.key
        assert float(dict((k, m) for k, _, m in rows)["e"]) == pytest.approx(25.30), peer.key


# --- the whole benchmark at a tiny N ----------------------------------------------------


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):
    """One `segments bench` over ~2,000 transactions and 35 days, work dir kept."""
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("bench")
    work, results = root / "work", root / "results"
    code = main(
        [
            "bench",
            "--transactions",
            "2000",
            "--days",
            "35",
            "--work-dir",
            str(work),
            "--results-dir",
            str(results),
            "--keep",
        ]
    )
    assert code == 0
    [json_path] = results.glob("bench-2000-*.json")
    [md_path] = results.glob("bench-2000-*.md")
    return {"work": work, "json": json.loads(json_path.read_text()), "md": md_path.read_text()}


def test_bench_table_has_every_row(bench):
    data = bench["json"]
    rows = {row["key"]: row for row in data["rows"]}
    for key in ("full_refresh", "incremental", *PEER_KEYS):
        assert rows[key]["seconds"] > 0, key
        assert rows[key]["peak_rss_bytes"] > 20 * 2**20, key
        assert f"**{rows[key]['label']}**" in bench["md"]
    for stage in STAGE_KEYS:
        assert f"full_refresh.{stage}" in rows
        assert f"· {stage}" in bench["md"]
    stages = sum(r["seconds"] for k, r in rows.items() if k.startswith("full_refresh."))
    assert stages == pytest.approx(rows["full_refresh"]["seconds"], rel=0.01)
    ratios = {r["key"]: r for r in data["ratios"]}
    assert set(ratios) == set(RATIO_KEYS)
    assert ratios["full_over_pandas"]["value"] == pytest.approx(
        rows["full_refresh"]["seconds"] / rows["pandas_rfm"]["seconds"]
    )
    for r in ratios.values():
        assert r["label"] in bench["md"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["memory_bytes"] > 0
    assert data["workload"]["new_day_transactions"] > 0


def test_peers_score_every_customer_like_the_product(bench):
    """The bench's own check (as of the full refresh), then an independent one: the peers on
    the warehouse after the incremental, against the published file BI reads."""
    assert bench["json"]["scores_match"] is True
    for key in PEER_KEYS:
        assert bench["json"]["score_agreement"][key]["matches"] is True, key

    work = bench["work"]
    as_of = date.fromisoformat(bench["json"]["workload"]["new_day"])
    build_db, published_db = work / "warehouse/build.duckdb", work / "warehouse/segments.duckdb"
    check = work / "check"
    check.mkdir()
    workload.export_transactions(build_db, check / "tx.csv", as_of)
    product = check / "product.parquet"
    customers = workload.snapshot_product_scores(published_db, product, as_of)
    with duckdb.connect() as con:
        ties = con.execute(
            f"select count(*) - count(distinct frequency) from read_parquet('{product}')"
        ).fetchone()[0]
    assert customers > 100 and ties > 0  # tied values exist, so the tie rule is exercised
    for peer in peers.PEERS:
        out = check / f"{peer.key}.parquet"
        command = peers.peer_command(peer, check / "tx.csv", as_of, 730, out)
        subprocess.run(command, check=True, capture_output=True)
        agreement = peers.compare_scores(product, out)
        assert agreement["matches"], (peer.key, agreement)
        assert agreement["customers_equal"] == customers
