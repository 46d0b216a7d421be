"""The whole graph on a small generated data set: ingest → dbt → checks → publish.

Asserts real values on the published file and the build database, not just "it ran".
"""

from __future__ import annotations

import os
import shutil
from datetime import date

import duckdb
import pytest

from pipelines.lib.generate import PLANTED, generate

END = date(2026, 9, 30)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory):
    """One full refresh over ~14 months of sample data, shared by the assertions below."""
    root = tmp_path_factory.mktemp("e2e")
    env = {
        "SEGMENTS_LANDING_DIR": str(root / "landing"),
        "SEGMENTS_WAREHOUSE_DIR": str(root / "warehouse"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DAGSTER_HOME": str(root / "warehouse" / "dagster_home"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    (root / "warehouse" / "dagster_home").mkdir(parents=True)
    try:
        summary = generate(root / "landing", customers=300, days=420, seed=7, end_date=END)
        from pipelines.cli import main

        assert main(["run", "--as-of", END.isoformat()]) == 0
        yield {"root": root, "summary": summary, "main": main}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _published(e2e) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(e2e["root"] / "warehouse" / "segments.duckdb"), read_only=True)


def _build(e2e) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(e2e["root"] / "warehouse" / "build.duckdb"), read_only=True)


def _customer_key(con: duckdb.DuckDBPyConnection, email: str) -> str:
    rows = con.execute(
        "select distinct customer_key from intermediate.int_customer_aliases "
        "where alias_type = 'email' and alias_value = ?",
        [email],
    ).fetchall()
    assert len(rows) == 1, f"{email} maps to {len(rows)} customer keys"
    return rows[0][0]


def test_published_file_opens_read_only_with_one_row_per_customer(e2e):
    with _published(e2e) as con:
        total, distinct, as_of = con.execute(
            "select count(*), count(distinct customer_key), max(as_of_date) from customer_segments"
        ).fetchone()
        with pytest.raises(duckdb.Error):
            con.execute("create table x (i int)")
    assert total == distinct > 250
    assert as_of == END


def test_planted_champion_is_a_champion(e2e):
    with _build(e2e) as build:
        key = _customer_key(build, PLANTED["champion"]["email"])
    with _published(e2e) as con:
        segment, r_score = con.execute(
            "select rfm_segment, r_score from customer_segments where customer_key = ?", [key]
        ).fetchone()
    assert (segment, r_score) == ("Champions", 5)


def test_planted_lost_customer_is_lost(e2e):
    with _build(e2e) as build:
        key = _customer_key(build, PLANTED["lost"]["email"])
    with _published(e2e) as con:
        segment = con.execute(
            "select rfm_segment from customer_segments where customer_key = ?", [key]
        ).fetchone()[0]
    assert segment == "Lost"


def test_refund_row_reduces_net_revenue_by_its_amount(e2e):
    planted = PLANTED["refund"]
    with _build(e2e) as con:
        gross, refunded, net = con.execute(
            "select gross_amount, refunded_amount, net_amount from marts.fct_transactions "
            "where transaction_id = ?",
            [planted["charge_id"]],
        ).fetchone()
    assert float(gross) == planted["amount_minor"] / 100
    assert float(refunded) == planted["amount_refunded_minor"] / 100
    assert float(net) == planted["net_minor"] / 100


def test_two_spellings_of_one_email_are_one_customer(e2e):
    spellings = PLANTED["two_spellings"]["spellings"]
    with _build(e2e) as con:
        keys = con.execute(
            "select distinct a.customer_key from intermediate.int_customer_aliases a "
            "where a.alias_type = 'email' and a.alias_value = lower(trim(?))",
            [spellings["shopify"]],
        ).fetchall()
        channels = con.execute(
            "select count(distinct source) from marts.fct_transactions where customer_key = ?",
            [keys[0][0]],
        ).fetchone()[0]
    assert len(keys) == 1
    assert channels == 2  # bought through Shopify and Stripe, stitched into one customer


def test_redropping_a_file_changes_nothing(e2e):
    root = e2e["root"]
    with _build(e2e) as con:
        before = con.execute("select count(*), sum(_source_line) from raw.shopify_orders").fetchone()
    with _published(e2e) as con:
        published_before = con.execute(
            "select rfm_segment, count(*) from customer_segments group by 1 order by 1"
        ).fetchall()
    first = sorted((root / "landing" / "shopify").glob("*.csv"))[0]
    shutil.copy(first, first.with_name("copy_of_" + first.name))
    assert e2e["main"](["run", "--as-of", END.isoformat()]) == 0
    with _build(e2e) as con:
        after = con.execute("select count(*), sum(_source_line) from raw.shopify_orders").fetchone()
        status = con.execute(
            "select status from meta.load_manifest where file_path like '%copy_of_%'"
        ).fetchone()[0]
    with _published(e2e) as con:
        published_after = con.execute(
            "select rfm_segment, count(*) from customer_segments group by 1 order by 1"
        ).fetchall()
    assert after == before
    assert status.startswith("duplicate_of:")
    assert published_after == published_before
