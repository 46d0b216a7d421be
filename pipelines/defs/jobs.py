"""The refresh job and its daily schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.lib.partitions import AS_OF

# Every asset, one job: ingest (new files) → as-of dates → dbt build (+ tests as checks) →
# checks → publish. Partitioned by as-of date through its one partitioned asset.
refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=AS_OF,
    description="Ingest the landing zone, build every dbt model and check, then publish to BI.",
)

# At 02:00 UTC: load what landed and compute segments as of yesterday (day d's partition
# opens once d is over).
daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    refresh_job,
    hour_of_day=2,
    minute_of_hour=0,
    name="daily_refresh",
)

jobs = [refresh_job]
schedules = [daily_refresh_schedule]
