"""Assembles the code location. Each domain under pipelines/defs/ owns its assets, checks,
schedules and sensors; this module only collects them."""

from __future__ import annotations

import dagster as dg

from pipelines.defs import jobs
from pipelines.defs.alerts import sensors as alerts
from pipelines.defs.ingest import assets as ingest
from pipelines.defs.ingest import sensor as ingest_sensor
from pipelines.defs.predictions import assets as predictions
from pipelines.defs.publish import assets as publish
from pipelines.defs.quality import checks as quality
from pipelines.defs.segments import assets as segments
from pipelines.defs.warehouse import assets as warehouse
from pipelines.defs.warehouse.project import dbt_resource
from pipelines.lib.progress import LOGGERS
from pipelines.resources import default_resources

defs = dg.Definitions(
    assets=[
        *ingest.assets,
        *warehouse.assets,
        *predictions.assets,
        *segments.assets,
        *publish.assets,
    ],
    asset_checks=quality.checks,
    jobs=jobs.jobs,
    schedules=jobs.schedules,
    sensors=[*ingest_sensor.sensors, *alerts.sensors],
    resources={"dbt": dbt_resource(), **default_resources()},
    # Dagster's console logger plus the CLI's event file and stage lines; a run whose run
    # config names no logger (schedule, sensor, UI) gets the console logger as by default.
    loggers=LOGGERS,
    # One process writes the build database at a time (DuckDB's single-writer rule), and the
    # multiprocess executor would re-import this code per step (~5 s each).
    executor=dg.in_process_executor,
)
