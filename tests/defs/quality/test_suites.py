"""The suite files in expectations/: each names known metrics, passes a conforming batch
profiled against its baseline, and blocks (or only warns about) what it is there for."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from pipelines import settings
from pipelines.defs.quality.batch import RunBatch
from pipelines.defs.quality.checks import MART_TARGETS, RAW_TABLE_SOURCES, RAW_TARGETS
from pipelines.defs.quality.gx_checks import profile_target, suite_parameters
from pipelines.lib import gx

from .contract import LINEAGE, RAW_COLUMNS, create_raw_table, valid_row

PARAMS = suite_parameters(settings.load(), today=date(2024, 3, 6))
TARGETS = {t.table: t for t in RAW_TARGETS}
MARTS = {t.table: t for t in MART_TARGETS}
RUN_START = datetime(2024, 3, 6, 2, 0)
BATCH = RunBatch(RUN_START, materializes_asset=True)
# Columns that make a row's key: varied per row so a conforming batch has no duplicates.
KEYS = {
    "shopify_orders": ("order_name",),
    "stripe_charges": ("charge_id",),
    "paypal_activity": ("transaction_id",),
    "support_tickets": ("ticket_id",),
    "fx_rates": ("rate_date",),
    "generic_transactions": ("transaction_id",),
}


def _rows(table: str, n: int, loaded_at: datetime, start: int = 0, **changes: Any) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        row = valid_row(table, _loaded_at=loaded_at, _source_line=i + 2, **changes)
        for key in KEYS.get(table, ()):
            value = row[key]
            row[key] = value - timedelta(days=i) if isinstance(value, date) else f"{value}-{i}"
        rows.append(row)
    return rows


def _append(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows, columns=[*RAW_COLUMNS[table], *LINEAGE])  # noqa: F841
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM frame")


def _warehouse(
    table: str, batch: list[dict], baseline_loads: int = 3, baseline_rows: int = 100
) -> duckdb.DuckDBPyConnection:
    """raw.<table> with `baseline_loads` conforming earlier loads and this run's `batch`."""
    con = duckdb.connect()
    create_raw_table(con, table, [])
    for load in range(baseline_loads):
        at = RUN_START - timedelta(days=baseline_loads - load)
        _append(con, table, _rows(table, baseline_rows, at, start=1000 * (load + 1)))
    if batch:
        _append(con, table, batch)
    return con


def _validate(con: duckdb.DuckDBPyConnection, table: str) -> gx.SuiteResult:
    target = TARGETS.get(table) or MARTS[table]
    values = profile_target(con, target, BATCH)
    return gx.validate_profile(values, target.suite_path, parameters=PARAMS)


def _failed(result: gx.SuiteResult, severity: str) -> set[str]:
    return {f.column for f in result.only(severity).failed}


def test_every_raw_table_of_the_contract_has_a_suite() -> None:
    assert set(RAW_TABLE_SOURCES) == set(RAW_COLUMNS)
    assert all(t.suite_path.exists() for t in RAW_TARGETS)


@pytest.mark.parametrize("target", [*RAW_TARGETS, *MART_TARGETS], ids=lambda t: t.table)
def test_every_suite_names_known_metrics_and_has_both_severities(target) -> None:
    metrics = gx.suite_metrics(target.suite_path)  # raises on an unknown metric

    assert "rows" in metrics or any(m.startswith("columns_missing(") for m in metrics)
    assert gx.suite_severities(target.suite_path) == {"critical", "warning"}


@pytest.mark.parametrize("table", sorted(RAW_COLUMNS))
def test_raw_suite_passes_a_conforming_batch(table: str) -> None:
    con = _warehouse(table, _rows(table, 120, RUN_START))

    result = _validate(con, table)

    assert result.success, gx.failures_markdown(result)
    assert result.rows == 120 and result.profile


def test_columns_missing_blocks_and_says_what_to_do() -> None:
    con = _warehouse("stripe_charges", _rows("stripe_charges", 5, RUN_START))
    con.execute("ALTER TABLE raw.stripe_charges DROP COLUMN status")

    result = _validate(con, "stripe_charges")

    (missing,) = [f for f in result.only("critical").failed if "columns_missing" in f.column]
    assert missing.observed_value == "1" and missing.expected == "<= 0"
    markdown = gx.failures_markdown(result)
    assert "docs/raw_tables.md" in markdown and "| 1 | <= 0 |" in markdown


# (table, the batch, the metric a critical expectation must fail on)
BREAKS = [
    (
        "shopify_orders",
        _rows("shopify_orders", 3, RUN_START) + _rows("shopify_orders", 1, RUN_START, 9, total=-1),
        "min(total)",
    ),
    ("shopify_orders", _rows("shopify_orders", 150, RUN_START, email=None), "null_share(email)"),
    (
        "shopify_orders",  # every total in cents: 100x the recent mean
        _rows("shopify_orders", 1000, RUN_START, total=5000, subtotal=4000),
        "mean_vs_baseline(total)",
    ),
    (
        "stripe_charges",
        _rows("stripe_charges", 2, RUN_START) + _rows("stripe_charges", 1, RUN_START),
        "duplicates(charge_id)",
    ),
    (
        "stripe_charges",
        _rows("stripe_charges", 1, RUN_START, amount_refunded_minor=5000),
        "rows_where(amount_refunded_minor > amount_minor)",
    ),
    (
        "paypal_activity",
        _rows("paypal_activity", 2, RUN_START) * 2,
        "duplicates(transaction_id)",
    ),
    (
        "fx_rates",  # rates quoted the other way round
        _rows("fx_rates", 30, RUN_START, rate_to_reporting=1 / 1.0843 * 10),
        "mean_vs_baseline(rate_to_reporting)",
    ),
    ("crm_contacts", _rows("crm_contacts", 120, RUN_START, email=None), "null_share(email)"),
    (
        "support_tickets",
        _rows("support_tickets", 2, RUN_START) * 2,
        "duplicates(ticket_id)",
    ),
]


@pytest.mark.parametrize(
    ("table", "batch", "metric"), BREAKS, ids=[f"{t}-{m}" for t, _, m in BREAKS]
)
def test_raw_suite_blocks_what_row_rules_cannot_see(table: str, batch: list, metric: str) -> None:
    result = _validate(_warehouse(table, batch), table)

    assert metric in _failed(result, "critical"), gx.failures_markdown(result)
    failure = next(f for f in result.failed if f.column == metric)
    assert failure.observed_value is not None and failure.expected


def test_volume_and_mix_changes_only_warn() -> None:
    # A small batch (15 rows vs 100 per load) paid in another currency: worth a look, not a
    # reason to withhold the publish.
    batch = _rows("shopify_orders", 15, RUN_START, currency="USD")
    result = _validate(_warehouse("shopify_orders", batch), "shopify_orders")

    assert result.only("critical").success, gx.failures_markdown(result)
    assert "rows_per_day_vs_baseline" in _failed(result, "warning")
    volume = next(f for f in result.failed if f.column == "rows_per_day_vs_baseline")
    assert volume.observed_value == "0.15" and volume.expected == ">= 0.2 and <= 5"


def test_a_backfill_of_many_days_is_not_a_volume_spike() -> None:
    # Ten days at the usual ~100 rows per day, loaded in one run.
    batch = [
        row
        for day in range(10)
        for row in _rows(
            "shopify_orders",
            100,
            RUN_START,
            start=10_000 + 100 * day,
            _partition_date=date(2024, 2, 20) + timedelta(days=day),
        )
    ]
    values = profile_target(_warehouse("shopify_orders", batch), TARGETS["shopify_orders"], BATCH)

    assert values["rows"] == 1000 and values["rows_per_day_vs_baseline"] == pytest.approx(1.0)


def test_share_shift_warns_from_100_rows_on() -> None:
    batch = _rows("shopify_orders", 120, RUN_START, currency="USD")
    result = _validate(_warehouse("shopify_orders", batch), "shopify_orders")

    assert result.only("critical").success
    assert "share_shift(currency)" in _failed(result, "warning")


def test_a_small_batch_is_not_judged_by_share_rules() -> None:
    # Three guest checkouts without email: 100% null, but three rows say nothing.
    batch = _rows("shopify_orders", 3, RUN_START, email=None)

    result = _validate(_warehouse("shopify_orders", batch), "shopify_orders")

    assert result.only("critical").success, gx.failures_markdown(result)
    assert _failed(result, "warning") == {"rows_per_day_vs_baseline"}  # only the volume speaks


def test_first_load_has_no_baseline_and_passes_baseline_rules() -> None:
    con = _warehouse("shopify_orders", _rows("shopify_orders", 120, RUN_START), baseline_loads=0)

    values = profile_target(con, TARGETS["shopify_orders"], BATCH)

    assert values["rows"] == 120
    assert values["rows_per_day_vs_baseline"] is None
    assert values["share_shift(currency)"] is None
    result = gx.validate_profile(values, TARGETS["shopify_orders"].suite_path, parameters=PARAMS)
    assert result.success, gx.failures_markdown(result)


def test_baseline_is_the_most_recent_loads_before_the_run() -> None:
    con = _warehouse("stripe_charges", _rows("stripe_charges", 50, RUN_START), baseline_loads=12)

    values = profile_target(con, TARGETS["stripe_charges"], BATCH)

    # 12 earlier loads of 100 rows: the 10 latest make the baseline, 100 rows per load-day.
    assert values["rows"] == 50 and values["rows_per_day_vs_baseline"] == pytest.approx(0.5)


def test_a_check_launched_alone_profiles_the_latest_load() -> None:
    con = _warehouse("stripe_charges", _rows("stripe_charges", 40, RUN_START))
    alone = RunBatch(RUN_START + timedelta(hours=5), materializes_asset=False)

    values = profile_target(con, TARGETS["stripe_charges"], alone)

    assert values["rows"] == 40 and values["rows_per_day_vs_baseline"] == pytest.approx(0.4)


SEGMENTS_SQL = """
    SELECT * FROM (VALUES
        ('c1', DATE '2024-03-05', 3, 9, 420.50, 5, 5, 4, 5, 'Champions'),
        ('c2', DATE '2024-03-05', 600, 1, 12.00, 1, 1, 2, 2, 'Lost'),
        ('c3', DATE '2024-03-05', 90, 2, 80.00, 3, 2, 3, 3, 'Need Attention'),
        -- a prospect: known contact, no purchase in the lookback window, so no RFM
        ('c4', DATE '2024-03-05', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
    ) AS t(customer_key, as_of_date, recency_days, frequency, monetary,
           r_score, f_score, m_score, fm_score, rfm_segment)
"""
CUTOFFS_SQL = """
    SELECT * FROM (VALUES
        (DATE '2024-03-05', 'recency', 5, 0.0, 30.0, 12, 'quintile', 730),
        (DATE '2024-03-05', 'frequency', 4, 31.0, 90.0, 12, 'quintile', 730),
        (DATE '2024-03-05', 'monetary', 1, 0.0, 12.5, 12, 'quintile', 730)
    ) AS t(as_of_date, dimension, score, min_value, max_value, customers, scoring_method,
           lookback_days)
"""


def _mart(sql: str, table: str, published: Path | None = None) -> gx.SuiteResult:
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(f"CREATE TABLE marts.{table} AS {sql}")
        values = profile_target(con, MARTS[table], BATCH, published)
    return gx.validate_profile(values, MARTS[table].suite_path, parameters=PARAMS)


def test_mart_suites_pass_conforming_tables() -> None:
    segments = _mart(SEGMENTS_SQL, "customer_segments")
    cutoffs = _mart(CUTOFFS_SQL, "rfm_score_cutoffs")

    assert segments.success, gx.failures_markdown(segments)
    assert cutoffs.success, gx.failures_markdown(cutoffs)


def test_mart_suite_blocks_bad_scores_and_unsegmented_customers() -> None:
    bad = SEGMENTS_SQL.replace("5, 5, 4, 5, 'Champions'", "6, 5, 4, 5, 'Champions'").replace(
        "3, 2, 3, 3, 'Need Attention'", "3, 2, 3, 3, NULL"
    )

    result = _mart(bad, "customer_segments")

    assert _failed(result, "critical") == {
        "max(r_score)",
        "null_share(rfm_segment where r_score)",
    }
    by_metric = {f.column: f for f in result.failed}
    assert by_metric["max(r_score)"].observed_value == "6"
    # Only scored customers must have a segment: the prospect (c4) is not counted.
    assert by_metric["null_share(rfm_segment where r_score)"].observed_value == "0.3333333333333333"


def test_inverted_cutoff_range_blocks() -> None:
    result = _mart(CUTOFFS_SQL.replace("31.0, 90.0", "91.0, 90.0"), "rfm_score_cutoffs")

    assert _failed(result, "critical") == {"rows_where(max_value < min_value)"}


def _many_customers(segment_of) -> str:
    return f"""
        SELECT 'c' || i AS customer_key, DATE '2024-03-05' AS as_of_date, 10 AS recency_days,
               2 AS frequency, 50.0 AS monetary, 3 AS r_score, 3 AS f_score, 3 AS m_score,
               3 AS fm_score, {segment_of} AS rfm_segment
        FROM range(200) AS t(i)
    """


SPREAD = (
    "['Champions', 'Loyal Customers', 'Potential Loyalist', 'New Customers', 'Promising', "
    "'Need Attention', 'At Risk', 'Lost'][i % 8 + 1]"
)


def test_segment_share_bounds_block_a_collapsed_scoring(tmp_path: Path) -> None:
    assert _mart(_many_customers(SPREAD), "customer_segments").success

    collapsed = _mart(_many_customers("'Champions'"), "customer_segments")

    assert "max_share(rfm_segment)" in _failed(collapsed, "critical")


def test_segment_mix_is_compared_with_the_published_file(tmp_path: Path) -> None:
    published = tmp_path / "segments.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute(f"CREATE TABLE customer_segments AS {_many_customers(SPREAD)}")
    # A quarter of the customers move: Lost → Champions, At Risk → Promising.
    shifted = SPREAD.replace("'Lost'", "'Champions'").replace("'At Risk'", "'Promising'")

    same = _mart(_many_customers(SPREAD), "customer_segments", published)
    moved = _mart(_many_customers(shifted), "customer_segments", published)

    assert same.success, gx.failures_markdown(same)
    assert moved.only("critical").success
    assert _failed(moved, "warning") == {"share_shift(rfm_segment)"}


def test_ingest_writes_the_raw_tables_the_contract_states():
    """The readers' column lists (pipelines/defs/ingest) are the contract, name, order, type."""
    from pipelines.defs.ingest.loader import SOURCES, get_spec

    written = {get_spec(s).table: dict(get_spec(s).columns) for s in SOURCES}
    assert written == RAW_COLUMNS
    assert [list(c) for c in written.values()] == [list(c) for c in RAW_COLUMNS.values()]
