"""pipelines/defs/ingest/assets.py: the Dagster assets, materialised against a tmp warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.ingest.assets import assets
from pipelines.resources import default_resources

from .conftest import FIXTURES

SHOPIFY = dg.AssetKey(["raw", "shopify_orders"])


def shopify_asset() -> dg.AssetsDefinition:
    return next(a for a in assets if a.key == SHOPIFY)


def land_shopify(landing: Path) -> None:
    (landing / "shopify").mkdir()
    shutil.copy(FIXTURES / "shopify" / "orders_export_2024-03.csv", landing / "shopify")


def test_one_asset_per_raw_table_in_the_ingest_group() -> None:
    assert sorted(a.key.path[1] for a in assets) == [
        "crm_contacts",
        "events",
        "fx_rates",
        "generic_transactions",
        "paypal_activity",
        "shopify_orders",
        "stripe_charges",
        "support_tickets",
    ]
    for a in assets:
        assert a.key.path[0] == "raw"
        assert a.group_names_by_key[a.key] == "ingest"
        assert a.backfill_policy == dg.BackfillPolicy.single_run()
        assert "Origin:" in (a.descriptions_by_key[a.key] or "")


def test_ingest_is_file_driven_not_partitioned() -> None:
    # Regression (issue 10): daily partitions on 8 ingest assets made ~18,000 Dagster events
    # for a two-year refresh.
    assert all(a.partitions_def is None for a in assets)


def test_materialising_loads_every_new_file_whatever_days_it_holds(
    segments_env: dict[str, Path],
) -> None:
    land_shopify(segments_env["landing"])
    result = dg.materialize([shopify_asset()], resources=default_resources())
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["rows_loaded"].value == 5
    assert metadata["files_loaded"].value == 1
    assert metadata["days_touched"].value == 3
    assert "shopify/orders_export_2024-03.csv" in metadata["files"].value
    # The build database is closed: a writer can open it right away.
    with duckdb.connect(str(segments_env["warehouse"] / "build.duckdb")) as con:
        assert con.execute(
            "SELECT DISTINCT _partition_date::VARCHAR FROM raw.shopify_orders ORDER BY 1"
        ).fetchall() == [("2024-03-04",), ("2024-03-05",), ("2024-03-07",)]
    # The next run finds nothing new and reads no file again.
    again = dg.materialize([shopify_asset()], resources=default_resources())
    metadata = again.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["rows_loaded"].value, metadata["files_skipped"].value) == (0, 1)


def test_a_bad_file_fails_the_asset_after_loading_the_good_ones(
    segments_env: dict[str, Path],
) -> None:
    land_shopify(segments_env["landing"])
    (segments_env["landing"] / "shopify" / "broken.csv").write_bytes(b"\x1f\x8b\x08gz")
    result = dg.materialize([shopify_asset()], resources=default_resources(), raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "shopify/broken.csv" in failure.message
    with duckdb.connect(str(segments_env["warehouse"] / "build.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.shopify_orders").fetchone() == (5,)


def test_a_range_backfill_is_one_run_over_the_whole_window(
    segments_env: dict[str, Path],
) -> None:
    land_shopify(segments_env["landing"])
    result = dg.materialize(
        assets,
        resources=default_resources(),
        tags={
            "dagster/asset_partition_range_start": "2024-03-01",
            "dagster/asset_partition_range_end": "2024-03-31",
        },
    )
    assert result.success
    with duckdb.connect(str(segments_env["warehouse"] / "build.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT count(*), count(DISTINCT _partition_date) FROM raw.shopify_orders"
        ).fetchone() == (5, 3)
        # Every raw table exists for dbt, even for sources with nothing landed.
        assert con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchone() == (8,)


def test_a_run_not_started_by_the_cli_checks_the_landing_layout_too(
    segments_env: dict[str, Path],
) -> None:
    # Issue 12: schedule, sensor and UI runs skipped the landing check `segments run` does,
    # and an empty (or misspelled) landing dir failed at the last mart check instead.
    # `segments run` checks before the run and tags it: the step does not check again.
    tagged = dg.materialize(
        [shopify_asset()],
        resources=default_resources(),
        tags={"segments/landing_layout_checked": "true"},
    )
    assert tagged.success

    empty = dg.materialize([shopify_asset()], resources=default_resources(), raise_on_error=False)
    assert not empty.success
    failure = next(e for e in empty.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert f"no files found in {segments_env['landing']}" in message
    assert "expected layout: <landing>/<source>/<file>" in message

    land_shopify(segments_env["landing"])
    (segments_env["landing"] / "orders.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    ran = dg.materialize([shopify_asset()], resources=default_resources())
    assert ran.success  # a stray file is a warning, the rest loads
