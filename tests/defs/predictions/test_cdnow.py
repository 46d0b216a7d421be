"""The CDNOW sample through the product's own path must reproduce the papers' parameters.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", table 1 (BG/NBD on the
39-week calibration period 1997-01-01 .. 1997-09-30, time in weeks) and "RFM and CLV" /
Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (the 946 repeat buyers of
the calibration period). The transactions (tests/fixtures/cdnow, README there) land as a
`generic` source and one `segments run --as-of 1997-09-30` fits the models; the test reads
the published file, like a BI user would.

The product counts 2,349 customers with a purchase, not 2,357: 8 customers bought only $0
lines up to 1997-09-30, which are not purchases here (docs/generic_source.md, "What counts
as a purchase"); the papers count them (with x = 0). Every parameter still lands within 1%.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipelines.settings import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "cdnow"
PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_BGNBD_LOG_LIKELIHOOD = -9582.4
PAPER_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}  # v is the papers' gamma
PAPER_REPEAT_BUYERS = 946


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    """One `segments run --as-of 1997-09-30` in its own process: the as-of partitions start at
    SEGMENTS_START_DATE when the code location is imported, and this test needs 1997."""
    root = tmp_path_factory.mktemp("cdnow")
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "SEGMENTS_LANDING_DIR": str(root / "landing"),
        "SEGMENTS_WAREHOUSE_DIR": str(root / "warehouse"),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "SEGMENTS_START_DATE": "1997-01-01",
        "DAGSTER_HOME": str(root / "warehouse" / "dagster_home"),
    }
    for name in ("SEGMENTS_PUBLISH_PII", "SEGMENTS_AS_OF_DATE", "SEGMENTS_DEFINITIONS_DIR"):
        env.pop(name, None)
    (root / "warehouse" / "dagster_home").mkdir(parents=True)
    folder = root / "landing" / "generic" / "cdnow"
    folder.mkdir(parents=True)
    for name in ("cdnow_sample.csv", "mapping.yml"):
        shutil.copy(FIXTURE / name, folder / name)
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--as-of", "1997-09-30"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return root / "warehouse"


def _fits(warehouse) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(warehouse / "segments.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select model, parameter, value, log_likelihood, customers_fitted, converged, "
            "as_of_date from clv_model_fits"
        ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_bgnbd_parameters_match_the_paper_within_1_percent(published) -> None:
    fits = _fits(published)
    for name, paper in PAPER_BGNBD.items():
        value, loglik, customers, converged, as_of = fits[("bg_nbd", name)]
        assert value == pytest.approx(paper, rel=0.01), name
        assert converged and str(as_of) == "1997-09-30"
    assert loglik == pytest.approx(PAPER_BGNBD_LOG_LIKELIHOOD, rel=0.01)
    assert customers == 2349


def test_gamma_gamma_parameters_match_the_paper_within_1_percent(published) -> None:
    fits = _fits(published)
    for name, paper in PAPER_GAMMA_GAMMA.items():
        value, _, customers, converged, _ = fits[("gamma_gamma", name)]
        assert value == pytest.approx(paper, rel=0.01), name
        assert converged
    assert customers == PAPER_REPEAT_BUYERS


def test_predictions_are_published_for_every_customer_with_a_purchase(published) -> None:
    with duckdb.connect(str(published / "segments.duckdb"), read_only=True) as con:
        rows, keys, low, high, tiers = con.execute(
            """select count(*), count(distinct p.customer_key), min(probability_alive),
                      max(probability_alive), string_agg(distinct clv_tier, ',' order by clv_tier)
               from customer_predictions p
               join customer_segments s using (customer_key, as_of_date)"""
        ).fetchone()
        comment = con.execute(
            "select comment from duckdb_columns() where table_name = 'customer_predictions' "
            "and column_name = 'probability_alive'"
        ).fetchone()[0]
    assert rows == keys == 2349
    assert 0 <= low < 0.1 and high == pytest.approx(1.0)
    assert tiers == "high,low,medium"
    assert "BG/NBD probability" in comment  # from the dbt source YAML


def test_dynamic_segment_on_prediction_columns_matches_its_definition(published) -> None:
    with duckdb.connect(str(published / "segments.duckdb"), read_only=True) as con:
        members = con.execute(
            "select customer_key from dynamic_segment_members "
            "where segment_name = 'valuable_and_slipping_away' and as_of_date = '1997-09-30'"
        ).fetchall()
        expected = con.execute(
            "select customer_key from customer_predictions "
            "where probability_alive < 0.3 and predicted_clv_365_days > 500"
        ).fetchall()
        evaluated = con.execute(
            "select count(*) from dynamic_segment_members where as_of_date <> '1997-09-30' "
            "and segment_name = 'valuable_and_slipping_away'"
        ).fetchone()[0]
    assert sorted(members) == sorted(expected)
    assert evaluated == 0  # only the date with predictions


def test_report_has_the_clv_section_with_keys_only(published) -> None:
    page = (published / "report.html").read_text(encoding="utf-8")
    start = page.index('<section id="clv">')
    section = page[start : page.index("</section>", start)]

    assert 'data-chart="clv-holdout"' in section
    assert "Probability alive per RFM segment" in section
    assert "Top 20 customers by predicted CLV" in section
    assert "<th>email</th>" not in section  # PII publishing is off
    assert "r = 0.2439" in section
