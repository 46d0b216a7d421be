"""pipelines/defs/ingest/sensor.py: the landing-zone sensor, evaluated against a tmp warehouse.

Files are dated relative to the real clock (the sensor asks Dagster for the latest as-of
partition at "now", yesterday): orders of three days ago and yesterday.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pipelines import settings
from pipelines.defs.ingest.loader import load_source
from pipelines.defs.ingest.sensor import (
    NewFile,
    landing_zone_sensor,
    run_key,
    sensors,
)
from pipelines.defs.ingest.spec import IngestError
from pipelines.settings import PROJECT_ROOT

RANGE_START_TAG = "dagster/asset_partition_range_start"

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
THREE_DAYS_AGO = TODAY - timedelta(days=3)

HEADER = (
    "Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Id"
)


def shopify_csv(*orders: tuple[str, date]) -> str:
    """A minimal Shopify orders export: one paid line per (Name, day)."""
    lines = [HEADER]
    for name, day in orders:
        ts = f"{day.isoformat()} 10:00:00 +0000"
        order_id = name.strip("#")
        lines.append(f"{name},a@example.com,paid,{ts},EUR,10.00,10.00,{ts},1,Mug,10.00,{order_id}")
    return "\n".join(lines) + "\n"


def land(env: dict[str, Path], source: str, name: str, text: str) -> Path:
    path = env["landing"] / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


Tick = Callable[..., dg.SensorResult | dg.SkipReason]


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture()
def tick(instance: dg.DagsterInstance) -> Tick:
    """Evaluate the sensor once, as the daemon would, with the cursor it left last time."""

    def evaluate(cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return landing_zone_sensor(context)

    return evaluate


def only_request(result: dg.SensorResult | dg.SkipReason) -> dg.RunRequest:
    assert isinstance(result, dg.SensorResult), f"expected a run request, got {result}"
    assert len(result.run_requests) == 1
    return result.run_requests[0]


def load_everything(source: str) -> None:
    """What the requested run's ingest does, without Dagster."""
    cfg = settings.load()
    load_source(source, cfg.landing_dir, cfg.build_db)


def test_sensor_targets_the_refresh_job() -> None:
    assert sensors == [landing_zone_sensor]
    assert landing_zone_sensor.job_name == "refresh"
    assert landing_zone_sensor.minimum_interval_seconds == 60


def test_new_file_requests_one_run_as_of_the_latest_day(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    # Ingest is file-driven (issue 10): the run loads the file whatever days it holds, and
    # computes segments as of yesterday; the tick reads no file's dates.
    land(
        segments_env,
        "shopify",
        "orders.csv",
        shopify_csv(("#1", THREE_DAYS_AGO), ("#2", YESTERDAY)),
    )

    result = tick()

    request = only_request(result)
    assert request.partition_key == YESTERDAY.isoformat()
    assert RANGE_START_TAG not in request.tags
    assert request.tags["segments/new_files"] == "shopify/orders.csv"
    assert request.run_key and result.cursor == request.run_key


def test_same_new_file_on_the_next_tick_requests_nothing_again(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", YESTERDAY)))
    first = only_request(tick())

    again = tick(cursor=first.run_key)

    assert isinstance(again, dg.SkipReason)
    assert "already requested" in (again.skip_message or "")


def test_loaded_file_and_its_redrop_under_another_name_request_nothing(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    path = land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", THREE_DAYS_AGO)))
    request = only_request(tick())
    load_everything("shopify")

    after_load = tick(cursor=request.run_key)
    shutil.copy(path, path.with_name("orders (copy).csv"))
    after_redrop = tick(cursor=request.run_key)
    after_redrop_fresh_cursor = tick(cursor=None)

    for result in (after_load, after_redrop, after_redrop_fresh_cursor):
        assert isinstance(result, dg.SkipReason), result
        assert "no new or changed files" in (result.skip_message or "")


def test_changed_file_requests_a_run_with_a_new_key(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    path = land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", YESTERDAY)))
    first = only_request(tick())
    load_everything("shopify")

    path.write_text(shopify_csv(("#1", YESTERDAY), ("#2", YESTERDAY)), encoding="utf-8")
    second = only_request(tick(cursor=first.run_key))

    assert second.run_key != first.run_key
    assert second.partition_key == YESTERDAY.isoformat()


def test_file_edited_back_to_an_earlier_version_gets_a_fresh_key(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    # Dagster never reuses a run_key: A → B → A must not be keyed like the first A.
    path = land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", YESTERDAY)))
    key_a = only_request(tick()).run_key
    load_everything("shopify")
    path.write_text(shopify_csv(("#2", YESTERDAY)), encoding="utf-8")
    key_b = only_request(tick(cursor=key_a)).run_key
    load_everything("shopify")
    path.write_text(shopify_csv(("#1", YESTERDAY)), encoding="utf-8")

    key_a_again = only_request(tick(cursor=key_b)).run_key

    assert len({key_a, key_b, key_a_again}) == 3


def test_run_key_depends_on_content_not_name(segments_env: dict[str, Path], tick: Tick) -> None:
    path = land(segments_env, "shopify", "a.csv", shopify_csv(("#1", YESTERDAY)))
    key_a = only_request(tick()).run_key
    path.rename(path.with_name("renamed.csv"))

    assert only_request(tick()).run_key == key_a


def test_reference_data_dated_today_runs_the_latest_day(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    # CRM contacts carry the load date (today), which has no partition until tomorrow.
    land(
        segments_env,
        "crm",
        "contacts.csv",
        "email,first_name,last_name,phone,created_at\na@example.com,A,B,,2024-01-01 10:00:00\n",
    )

    request = only_request(tick())

    assert request.partition_key == YESTERDAY.isoformat()
    assert RANGE_START_TAG not in request.tags


def test_unreadable_new_file_still_starts_a_run_that_will_name_it(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    land(segments_env, "shopify", "orders.csv", "Order;Mail;Total\n#1;a@example.com;10\n")

    request = only_request(tick())

    assert request.partition_key == YESTERDAY.isoformat()
    assert request.tags["segments/new_files"] == "shopify/orders.csv"


def test_file_still_being_written_is_not_new_yet(segments_env: dict[str, Path], tick: Tick) -> None:
    land(segments_env, "shopify", "orders.csv", "")
    land(segments_env, "shopify", "orders2.csv.part", shopify_csv(("#1", YESTERDAY)))

    result = tick()

    assert isinstance(result, dg.SkipReason)


def test_tick_is_skipped_while_a_run_holds_the_build_database(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", YESTERDAY)))
    build_db = settings.load().build_db
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(build_db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = tick()
    finally:
        holder.communicate("", timeout=30)

    assert isinstance(result, dg.SkipReason)
    assert "busy" in (result.skip_message or "")
    assert isinstance(tick(), dg.SensorResult)  # the next tick, with the lock gone


def test_tick_is_skipped_without_opening_the_build_database_while_a_run_holds_the_warehouse(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    land(segments_env, "shopify", "orders.csv", shopify_csv(("#1", YESTERDAY)))
    warehouse = settings.load().warehouse_dir
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom pipelines.lib import runlock\n"
            "with runlock.hold(sys.argv[1], 'run-1'):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = tick()
    finally:
        holder.communicate("", timeout=30)
    assert isinstance(result, dg.SkipReason)
    assert "run run-1 (pid" in (result.skip_message or "")
    assert isinstance(tick(), dg.SensorResult)


def test_binary_file_does_not_break_the_tick(segments_env: dict[str, Path], tick: Tick) -> None:
    # Regression (issue 10): a 4 KiB random binary file named like an export crashed the
    # pre-scan with UnicodeDecodeError. The tick only hashes files; the run names it.
    path = segments_env["landing"] / "shopify" / "orders_export_garbage.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(256)) * 16)

    request = only_request(tick())

    assert request.tags["segments/new_files"] == "shopify/orders_export_garbage.csv"


def test_run_key_ignores_names_and_order() -> None:
    a = [NewFile("shopify", "x.csv", "aa"), NewFile("stripe", "y.jsonl", "bb")]
    b = [NewFile("stripe", "z.jsonl", "bb"), NewFile("shopify", "w.csv", "aa")]
    assert run_key(a) == run_key(b) != run_key(a[:1])


@pytest.mark.timeout(60)  # opening the FIFO would block the tick forever
def test_pipe_and_link_out_of_the_landing_zone_request_one_run_without_being_read(
    segments_env: dict[str, Path], tick: Tick
) -> None:
    outside = segments_env["root"] / "secret.csv"
    outside.write_text("root:x:0:0\n")
    (segments_env["landing"] / "shopify").mkdir()
    (segments_env["landing"] / "shopify" / "orders.csv").symlink_to(outside)
    (segments_env["landing"] / "stripe").mkdir()
    os.mkfifo(segments_env["landing"] / "stripe" / "charges.jsonl")

    request = only_request(tick())

    # One run, which fails naming both; once the failure is recorded the ticks are quiet.
    assert request.tags["segments/new_files"] == "shopify/orders.csv, stripe/charges.jsonl"
    for source in ("shopify", "stripe"):
        with pytest.raises(IngestError):
            load_everything(source)
    again = tick()
    assert isinstance(again, dg.SkipReason)
