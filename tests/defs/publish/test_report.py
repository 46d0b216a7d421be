"""The HTML report: self-contained, every section, charts that a real browser draws."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.publish.audited import publish_with_audited
from pipelines.defs.publish.publish import publish
from pipelines.defs.publish.quality import checks_of_last_run, checks_of_run
from pipelines.defs.publish.report import write_report
from tests.defs.publish.warehouse import AS_OF

CHARTS = ("segment-sizes", "revenue-share", "rfm-grid", "migration", "segment-history", "dynamic")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _report(build: Path, tmp_path: Path, **kw):
    published = publish_with_audited(build, tmp_path / "segments.duckdb")[0].path
    return write_report(published, tmp_path / "report.html", currency="USD", **kw)


def test_report_has_every_section_and_needs_no_network(full_build: Path, tmp_path: Path):
    result = _report(full_build, tmp_path)
    html = result.path.read_text(encoding="utf-8")
    assert result.as_of == AS_OF and result.charts >= len(CHARTS)
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in html, chart
    for title in (
        "The week in numbers",
        "Segment sizes and revenue share",
        "R × FM grid",
        "Migration between the last two snapshots",
        "Segment sizes over time",
        "Segment profiles",
        "Other segment families",
        "Data quality of the run",
    ):
        assert f"<h2>{title}</h2>" in html, title
    # Self-contained: nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    # Data quality from the build database: the quarantined rows and the failed file.
    assert "invalid_amount" in html and "shopify/broken.csv" in html
    assert set(result.missing) == {"checks"}  # only the run history is missing outside Dagster


def test_missing_tables_say_not_available_yet(dbt_build: Path, tmp_path: Path):
    # A build database from before segment_profiles existed (an older warehouse).
    build = tmp_path / "old_build.duckdb"
    shutil.copy(dbt_build, build)
    with duckdb.connect(str(build)) as con:
        con.execute("drop table marts.segment_profiles")
    result = _report(build, tmp_path)
    html = result.path.read_text(encoding="utf-8")
    assert "segment_profiles is not published yet" in html
    assert "Not available yet" in html
    # History still comes from dbt's per-date RFM table, so migration and trends are drawn.
    assert 'data-chart="migration"' in html and 'data-chart="segment-history"' in html


def test_report_without_the_audited_file_still_renders_from_the_published_file(
    full_build: Path, tmp_path: Path
):
    published = publish(full_build, tmp_path / "segments.duckdb").path  # BI file only
    result = write_report(published, tmp_path / "r.html", currency="EUR")
    html = result.path.read_text(encoding="utf-8")
    assert "EUR" in html and 'data-chart="segment-history"' in html  # published snapshots
    assert "fct_transactions is not published (audited.duckdb)" in html


def _dump_dom(chromium: str, page: Path) -> str:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        dom = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=1200,900",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return dom


def test_report_renders_in_headless_chromium(full_build: Path, tmp_path: Path, chromium: str):
    result = _report(full_build, tmp_path)
    dom = _dump_dom(chromium, result.path)
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    charts = int(re.search(r'data-charts="(\d+)"', body.group(0)).group(1))
    drawn = int(re.search(r'data-charts-drawn="(\d+)"', body.group(0)).group(1))
    assert charts == result.charts and drawn == charts, body.group(0)
    # Each chart laid out marks with a real size (the script records how many).
    marks = dict(re.findall(r'data-chart="([\w-]+)"[^>]*data-marks="(\d+)"', dom))
    for chart in CHARTS:
        assert int(marks[chart]) > 0, chart
    assert int(marks["rfm-grid"]) == 25
    # nothing to warn about in the synthetic build: no rule-warning box, no unknown notes
    assert (
        'data-rule-warnings="0"' in body.group(0)
        and 'id="rule-warnings"' not in result.path.read_text()
    )


def test_rule_warnings_and_unknown_counts_are_shown_in_headless_chromium(
    full_build: Path, tmp_path: Path, chromium: str
):
    # A lapsed base, as quintile recency scores it: a third of the Champions (r 4-5) have
    # not bought for over a year, so lifecycle calls them `former`; and a fifth of the
    # customers have no engagement events.
    build = tmp_path / "build.duckdb"
    shutil.copy(full_build, build)
    with duckdb.connect(str(build)) as con:
        con.execute(
            "update marts.customer_segments set lifecycle_status = 'former', recency_days = "
            "400 + hash(customer_key) % 30 where rfm_segment = 'Champions' "
            "and hash(customer_key) % 3 = 0"
        )
        con.execute(
            "update marts.customer_segments set engagement_band = 'unknown' "
            "where hash(customer_key) % 5 = 0"
        )
        former, champions = con.execute(
            "select count(*) filter (where lifecycle_status = 'former'), count(*) "
            "from marts.customer_segments where rfm_segment = 'Champions'"
        ).fetchone()
    assert 0 < former < champions
    result = _report(build, tmp_path)
    html = result.path.read_text(encoding="utf-8")
    assert f"{former:,} of {champions:,} Champions last bought 4" in html
    assert "recency_scoring,fixed" in html and "rfm_settings.csv" in html
    dom = _dump_dom(chromium, result.path)
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-rule-warnings="1"' in body, body  # one segment, laid out with a real size
    assert 'data-unknown-notes="1"' in body, body  # the engagement family says how many
    drawn = int(re.search(r'data-charts-drawn="(\d+)"', body).group(1))
    assert drawn == result.charts


@dg.asset_check(asset="thing", blocking=False)
def always_passes() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset="thing", blocking=False)
def always_warns() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset
def thing() -> None:
    return None


def test_check_summary_reads_the_runs_check_evaluations(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = dg.materialize([thing, always_passes, always_warns], instance=instance)
        summary = checks_of_run(instance, run.run_id)
    assert (summary.passed, summary.failed) == (1, ("thing:always_warns (WARN)",))
    assert summary.started_at is not None


def test_no_dagster_instance_is_a_note_not_an_error(tmp_path: Path):
    summary, note = checks_of_last_run(tmp_path / "nowhere")
    assert summary is None and "no Dagster instance" in note
    assert not (tmp_path / "nowhere").exists()  # reading never creates an instance


def test_families_say_how_many_customers_are_unknown(full_build: Path, tmp_path: Path):
    # The synthetic build has events and discount data for everyone: take away a fifth of
    # the customers' engagement data, as a shop without an events export for them would.
    build = tmp_path / "build.duckdb"
    shutil.copy(full_build, build)
    with duckdb.connect(str(build)) as con:
        con.execute(
            "update marts.customer_segments set engagement_band = 'unknown' "
            "where hash(customer_key) % 5 = 0"
        )
        unknown, total = con.execute(
            "select count(*) filter (where engagement_band = 'unknown'), count(engagement_band) "
            "from marts.customer_segments"
        ).fetchone()
    assert 0 < unknown < total
    html = _report(build, tmp_path).path.read_text(encoding="utf-8")
    assert f"{unknown:,} of {total:,} customers ({unknown / total:.0%}) are" in html
    assert html.count("<em>unknown</em>: no data to label them") == 1  # only that family
