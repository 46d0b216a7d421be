"""The table's rows from what was measured: a refresh and its stages, the ratios, the profile.

A refresh row is followed by one row per stage (pipelines/bench/stages.py: start-up, planning,
ingest, dbt, checks, publish, other); the stages add up to the refresh's wall time.
"""

from __future__ import annotations

import os
import pstats
from pathlib import Path

from pipelines.bench.measure import Measurement
from pipelines.bench.report import Ratio, Row, ratio
from pipelines.bench.stages import STAGES, RunProfile


def _stage_note(stage: str, profile: RunProfile) -> str:
    steps = [s for s in profile.steps if s.stage == stage]
    events = sum(s.events for s in steps)
    if stage == "start-up":
        return "Python, imports, loading the definitions, scanning the landing zone"
    if stage == "planning":
        return f"{profile.events_before_first_step:,} Dagster events before the first step"
    if stage == "dbt" and profile.dbt:
        parts = []
        for timing in profile.dbt.values():
            node = ", ".join(f"{k}s {v:.1f} s" for k, v in sorted(timing.node_seconds.items()))
            parts.append(
                f"dbt's own elapsed time {timing.elapsed_seconds:.1f} s (node time: {node})"
            )
        return f"{_steps(steps)}, {events:,} events; " + "; ".join(parts)
    if stage == "checks":
        return f"{len(steps)} check steps, {events:,} events (dbt tests run inside the dbt step)"
    if stage == "other":
        return "between steps, run end, process exit"
    return f"{_steps(steps)}, {events:,} events"


def _steps(steps: list) -> str:
    return "1 step" if len(steps) == 1 else f"{len(steps)} steps"


def refresh_rows(
    key: str, label: str, measured: Measurement, profile: RunProfile, note: str
) -> list[Row]:
    """The refresh's row and one row per stage; the stages add up to the refresh's time."""
    stages = profile.stage_seconds(measured.started_at, measured.seconds)
    rows = [Row(key, label, measured.seconds, measured.peak_rss_bytes, note)]
    rows += [
        Row(f"{key}.{stage}", stage, stages[stage], None, _stage_note(stage, profile), level=1)
        for stage in STAGES
    ]
    return rows


def profile_summary(profile: RunProfile, top: int = 10) -> dict[str, object]:
    slowest = sorted(profile.steps, key=lambda s: s.seconds, reverse=True)[:top]
    return {
        "run_id": profile.run_id,
        "events": profile.events,
        "slowest_steps": [vars(s) for s in slowest],
        "steps": [vars(s) for s in profile.steps],
        "dbt": {
            k: {
                "elapsed_seconds": v.elapsed_seconds,
                "node_seconds": v.node_seconds,
                "nodes": v.nodes,
                "slowest": list(v.slowest),
            }
            for k, v in profile.dbt.items()
        },
    }


def write_profile_text(prof: Path) -> Path:
    """Top functions by cumulative time of one cProfile file, as text beside it."""
    out = prof.with_suffix(".txt")
    with open(out, "w") as f:
        pstats.Stats(os.fspath(prof), stream=f).sort_stats("cumulative").print_stats(40)
    return out


def ratios(seconds: dict[str, float | None]) -> list[Ratio]:
    """The issue's three ratios, from the rows' seconds by key."""
    full = seconds["full_refresh"]
    return [
        ratio("full_over_pandas", "full refresh ÷ pandas RFM script", full, seconds["pandas_rfm"]),
        ratio(
            "full_over_duckdb_floor",
            "full refresh ÷ DuckDB RFM query (floor)",
            full,
            seconds["duckdb_rfm_floor"],
        ),
        ratio(
            "incremental_over_full",
            "daily incremental ÷ full refresh",
            seconds["incremental"],
            full,
        ),
    ]
