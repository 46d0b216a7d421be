"""Write-audit-publish, proven in real Dagster runs: a failed blocking check stops the publish.

Small stand-in assets play ingest (raw/shopify_orders), dbt (marts/customer_segments) and
publish (published/segments_db) with the real asset keys, so the real checks from
`pipelines.defs.quality.checks` attach to them; the rest of the pipeline is not needed.
"""

# No `from __future__ import annotations`: Dagster rejects string `context` annotations.

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pytest

from pipelines import settings
from pipelines.defs.quality.checks import PUBLISH_GATE_KEYS, checks
from pipelines.lib.partitions import AS_OF as DAILY
from pipelines.resources import default_resources

from .contract import create_quarantine_table, create_raw_table, record_files, valid_row

RAW = dg.AssetKey(["raw", "shopify_orders"])
MART = dg.AssetKey(["marts", "customer_segments"])
PUBLISHED = dg.AssetKey(["published", "segments_db"])
FILE = "shopify/orders_export.csv"


def _stand_ins(
    *,
    negative_total_on: date | None = None,
    lost_rows: int = 0,
    bad_score: bool = False,
    write_raw: bool = True,
):
    """raw → mart → published stand-ins; the arguments plant one defect each."""

    @dg.asset(key=RAW, partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
    def raw(context: dg.AssetExecutionContext) -> None:
        if not write_raw:
            return
        keys = context.partition_keys
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            valid_row(
                "shopify_orders",
                order_name=f"#{i}",
                _source_file=FILE,
                _source_line=i + 2,
                _partition_date=date.fromisoformat(k),
                created_at=datetime.fromisoformat(k),
                total=-5 if date.fromisoformat(k) == negative_total_on else 50,
                _loaded_at=now,
            )
            for i, k in enumerate(keys)
        ]
        with duckdb.connect(str(settings.load().build_db)) as con:
            create_raw_table(con, "shopify_orders", _existing_rows(con) + rows)
            create_quarantine_table(con, "shopify", [])
            record_files(
                con,
                "shopify",
                [
                    {
                        "file_path": FILE,
                        "rows_in_file": len(rows) + lost_rows,
                        "rows_loaded": len(rows),
                        "rows_quarantined": 0,
                        "min_partition_date": date.fromisoformat(keys[0]),
                        "max_partition_date": date.fromisoformat(keys[-1]),
                        "loaded_at": now,
                    }
                ],
            )

    @dg.asset(
        key=MART, deps=[RAW], partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run()
    )
    def mart() -> None:
        with duckdb.connect(str(settings.load().build_db)) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS marts")
            con.execute(f"""
                CREATE OR REPLACE TABLE marts.customer_segments AS
                SELECT order_name AS customer_key, max(_partition_date) AS as_of_date,
                       1 AS recency_days, count(*) AS frequency, sum(total) AS monetary,
                       {7 if bad_score else 5} AS r_score, 4 AS f_score, 4 AS m_score,
                       4 AS fm_score, 'Champions' AS rfm_segment
                FROM raw.shopify_orders GROUP BY ALL
            """)

    @dg.asset(
        key=PUBLISHED,
        deps=[MART],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def published() -> None:
        settings.load().published_db.write_bytes(b"published")

    return [raw, mart, published]


def _existing_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Rows loaded by an earlier run (kept across the stand-in's CREATE OR REPLACE)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'raw' AND table_name = 'shopify_orders'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute("SELECT * FROM raw.shopify_orders").df().to_dict("records")


def _run(assets, **kwargs) -> dg.ExecuteInProcessResult:
    keys = {a.key for a in assets}
    relevant = [c for c in checks if {k.asset_key for k in c.check_keys} <= keys]
    return dg.materialize(
        [*assets, *relevant], resources=default_resources(), raise_on_error=False, **kwargs
    )


def _evaluations(
    result: dg.ExecuteInProcessResult,
) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


@pytest.fixture()
def env(segments_env):
    settings.load().build_db.parent.mkdir(parents=True, exist_ok=True)
    return segments_env


def test_clean_range_run_validates_its_partitions_and_publishes(env) -> None:
    # An earlier load left a bad row: loaded before this run started, so not re-judged.
    with duckdb.connect(str(settings.load().build_db)) as con:
        create_raw_table(
            con,
            "shopify_orders",
            [
                valid_row(
                    "shopify_orders",
                    order_name="#old",
                    total=-1,
                    _source_file="shopify/old.csv",
                    _partition_date=date(2024, 3, 1),
                    created_at=datetime(2024, 3, 1),
                ),
            ],
        )
        record_files(
            con,
            "shopify",
            [
                {
                    "file_path": "shopify/old.csv",
                    "rows_in_file": 1,
                    "rows_loaded": 1,
                    "rows_quarantined": 0,
                    "min_partition_date": date(2024, 3, 1),
                    "max_partition_date": date(2024, 3, 1),
                }
            ],
        )

    result = _run(
        _stand_ins(),
        tags={
            "dagster/asset_partition_range_start": "2024-03-04",
            "dagster/asset_partition_range_end": "2024-03-05",
        },
    )

    assert result.success
    assert _materialized(result) == {RAW, MART, PUBLISHED}
    evaluations = _evaluations(result)
    gx_raw = evaluations[("raw/shopify_orders", "gx_critical")]
    assert gx_raw.passed
    assert gx_raw.metadata["partitions"].value == "2024-03-04..2024-03-05"
    assert gx_raw.metadata["batch"].value.startswith("rows loaded since ")
    assert gx_raw.metadata["rows_validated"].value == 2
    assert evaluations[("raw/shopify_orders", "file_rows_reconcile")].passed
    assert evaluations[("marts/customer_segments", "gx_critical")].passed
    assert evaluations[("published/segments_db", "freshness")].passed


def test_failed_raw_expectation_stops_the_publish_and_says_why(env) -> None:
    result = _run(_stand_ins(negative_total_on=date(2024, 3, 5)), partition_key="2024-03-05")

    assert not result.success
    assert _materialized(result) == {RAW}
    assert not settings.load().published_db.exists()
    failed = _evaluations(result)[("raw/shopify_orders", "gx_critical")]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    table = failed.metadata["failed_expectations"].value
    # The expectation, the observed value, the bound and what to do.
    assert "| critical | `expect_column_values_to_be_between`" in table
    assert "| `min(total)` | -5.0 | >= 0 | Find the line in the run's files" in table
    # The description (also metadata `gate_failure`): the rows behind it, with file and line.
    assert failed.description.startswith("min(total) = -5, expected >= 0 (No negative order")
    assert "1 row of 1 in the batch breaks it; files: " in failed.description
    assert "\n  e.g. " in failed.metadata["gate_failure"].value
    assert "| `rows` | 1 |" in failed.metadata["profile"].value


def test_lost_rows_stop_the_publish(env) -> None:
    result = _run(_stand_ins(lost_rows=1), partition_key="2024-03-05")

    assert PUBLISHED not in _materialized(result)
    failed = _evaluations(result)[("raw/shopify_orders", "file_rows_reconcile")]
    assert not failed.passed
    assert (
        f"{FILE}: rows in file != rows in raw + rows in quarantine + rows waiting"
        in failed.description
    )


def test_failed_mart_expectation_stops_the_publish(env) -> None:
    result = _run(_stand_ins(bad_score=True), partition_key="2024-03-05")

    assert _materialized(result) == {RAW, MART}
    evaluations = _evaluations(result)
    assert evaluations[("raw/shopify_orders", "gx_critical")].passed
    failed = evaluations[("marts/customer_segments", "gx_critical")]
    assert not failed.passed and "r_score" in failed.metadata["failed_expectations"].value


def test_missing_table_fails_with_what_to_materialise(env) -> None:
    result = _run(_stand_ins(write_raw=False), partition_key="2024-03-05")

    assert PUBLISHED not in _materialized(result)
    evaluations = _evaluations(result)
    gx_raw = evaluations[("raw/shopify_orders", "gx_critical")]
    assert not gx_raw.passed
    assert "raw.shopify_orders does not exist yet" in gx_raw.description
    assert "materialise raw/shopify_orders" in gx_raw.description
    assert (
        "meta.load_manifest does not exist yet"
        in evaluations[("raw/shopify_orders", "file_rows_reconcile")].description
    )


def test_publish_gate_lists_the_checked_marts() -> None:
    assert MART in PUBLISH_GATE_KEYS
    assert dg.AssetKey(["marts", "fct_transactions"]) in PUBLISH_GATE_KEYS


def test_a_run_without_new_rows_passes_with_no_new_rows(env) -> None:
    # File-driven ingest: a run in which nothing new landed materialises the asset, writes
    # no row, and its volume/drift checks pass trivially.
    assert _run(_stand_ins(), partition_key="2024-03-05").success

    result = _run(_stand_ins(write_raw=False), partition_key="2024-03-06")

    assert result.success
    gx_raw = _evaluations(result)[("raw/shopify_orders", "gx_critical")]
    assert gx_raw.passed and gx_raw.metadata["note"].value == "no new rows"
    assert gx_raw.metadata["rows_validated"].value == 0
    assert gx_raw.metadata["partitions"].value == "2024-03-06"  # reported, not used
    assert "no new rows in raw.shopify_orders" in gx_raw.description


def test_a_check_launched_alone_reads_the_latest_load(env) -> None:
    # As from the UI's "Execute" on one check: no asset in the run, no partition.
    assets = _stand_ins()
    assert _run(assets, partition_key="2024-03-05").success
    warning_only = dg.AssetSelection.checks(dg.AssetCheckKey(RAW, "gx_warning"))

    result = _run(assets, selection=warning_only)

    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "gx_warning" and evaluation.passed
    assert evaluation.metadata["batch"].value == "latest load"
    assert evaluation.metadata["rows_validated"].value == 1


def test_revenue_gate_needs_publish_to_depend_on_fct_transactions(env) -> None:
    # Like @dbt_assets: fct_transactions and customer_segments come out of one step, so the
    # blocking revenue check can only stop assets that depend on fct_transactions directly.
    fct = dg.AssetKey(["marts", "fct_transactions"])

    @dg.multi_asset(specs=[dg.AssetSpec(fct), dg.AssetSpec(MART, deps=[fct])])
    def dbt_like():
        with duckdb.connect(str(settings.load().build_db)) as con:
            create_raw_table(
                con, "stripe_charges", [valid_row("stripe_charges", amount_minor=1999)]
            )
            con.execute("CREATE SCHEMA IF NOT EXISTS marts")
            # 19.99 USD in raw, 29.99 in fct: a fanned-out join, say.
            con.execute(
                "CREATE OR REPLACE TABLE marts.fct_transactions AS SELECT 'stripe' AS source, "
                "DATE '2024-03-05' AS transaction_date, 'USD' AS original_currency, "
                "29.99::DECIMAL(18,4) AS gross_amount_original"
            )
        yield dg.MaterializeResult(asset_key=fct)
        yield dg.MaterializeResult(asset_key=MART)

    def publish_with(deps):
        @dg.asset(key=PUBLISHED, deps=deps)
        def published() -> None:
            settings.load().published_db.write_bytes(b"published")

        return published

    revenue = [c for c in checks if fct in {k.asset_key for k in c.check_keys}]
    wrong = dg.materialize(
        [dbt_like, publish_with([MART]), *revenue],
        resources=default_resources(),
        raise_on_error=False,
    )
    gated = dg.materialize(
        [dbt_like, publish_with([MART, *PUBLISH_GATE_KEYS]), *revenue],
        resources=default_resources(),
        raise_on_error=False,
    )

    assert PUBLISHED in _materialized(wrong)  # the trap: the failed check did not stop it
    assert PUBLISHED not in _materialized(gated)
    (evaluation,) = gated.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "stripe 2024-03-05 USD: raw 19.9900 vs fct 29.9900" in evaluation.description
