"""The refresh job and its daily schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.lib.partitions import DAILY

# Every asset, one partitioned job: ingest → as-of dates → dbt build (+ tests as checks) → publish.
refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY,
    description="Ingest the landing zone, build every dbt model and check, then publish to BI.",
)

# Refresh yesterday's partition at 02:00 UTC (the partition for day d opens once d is over).
daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    refresh_job,
    hour_of_day=2,
    minute_of_hour=0,
    name="daily_refresh",
)

jobs = [refresh_job]
schedules = [daily_refresh_schedule]
