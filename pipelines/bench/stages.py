"""Where a refresh spent its time: stage timings from the Dagster event log of one run.

A refresh is one Dagster run in one process (`segments run` / `segments backfill`). Its event
log holds STEP_START and STEP_SUCCESS per step, so the wall time of the process splits into:

| stage | what it is |
| --- | --- |
| start-up | process start → first event: Python, imports, loading the definitions, landing scan |
| planning | first event → first step: Dagster's planned events (one per asset and partition) |
| ingest | steps that materialise `raw/*` (read the landing files, load raw + quarantine) |
| dbt | other warehouse steps: the as-of dates table and the one `dbt build` (models + tests) |
| model | the CLV model step (`marts/customer_predictions`: BG/NBD + Gamma-Gamma) |
| checks | asset-check steps: GX suites, per-file row reconciliation, revenue reconciliation |
| publish | the step that materialises `published/*` (write-audit-publish) |
| other | the rest of the wall time: between steps, run end, process exit |

A step is classified by what it emitted, not by its name, so new assets land in the right
stage. The dbt step's own `run_results.json` splits it further into dbt's elapsed time (by
models, tests and seeds) and the cost of starting dbt and streaming its events.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("start-up", "planning", "ingest", "dbt", "model", "checks", "publish", "other")
# Asset keys (joined with "/") whose step is the model stage: the CLV model step.
MODEL_KEYS = frozenset({"marts/customer_predictions"})


@dataclass(frozen=True)
class StepTiming:
    """One step of a run: its key, stage, duration and how many events it wrote."""

    step_key: str
    stage: str
    seconds: float
    events: int


@dataclass(frozen=True)
class DbtTiming:
    """One `dbt build` as dbt timed it (run_results.json). Node times overlap across threads."""

    elapsed_seconds: float
    node_seconds: dict[str, float]  # summed execution time per resource type (model, test, ...)
    nodes: dict[str, int]
    slowest: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class RunProfile:
    """The timeline of one Dagster run, as epoch seconds, plus its steps."""

    run_id: str
    status: str
    first_event_at: float
    first_step_at: float
    last_event_at: float
    events: int
    events_before_first_step: int  # Dagster's planning: one planned event per asset, partition
    steps: tuple[StepTiming, ...]
    dbt: dict[str, DbtTiming] = field(default_factory=dict)  # by step key

    def stage_seconds(self, started_at: float, wall_seconds: float) -> dict[str, float]:
        """Seconds per stage (`STAGES`) of a process that started at `started_at` and ran for
        `wall_seconds`; the stages add up to the wall time."""
        seconds = dict.fromkeys(STAGES, 0.0)
        seconds["start-up"] = max(0.0, self.first_event_at - started_at)
        seconds["planning"] = max(0.0, self.first_step_at - self.first_event_at)
        for step in self.steps:
            seconds[step.stage] += step.seconds
        accounted = sum(v for k, v in seconds.items() if k != "other")
        seconds["other"] = max(0.0, wall_seconds - accounted)
        return seconds


def classify_step(
    materialized_prefixes: set[str],
    emitted_check: bool,
    materialized_keys: frozenset[str] = frozenset(),
) -> str:
    """The stage of a step from the asset keys it materialised (their first part, and the
    whole keys joined with "/") and whether it evaluated an asset check."""
    if materialized_keys & MODEL_KEYS:
        return "model"
    if "raw" in materialized_prefixes:
        return "ingest"
    if "published" in materialized_prefixes:
        return "publish"
    if materialized_prefixes:
        return "dbt"
    if emitted_check:
        return "checks"
    return "other"


def dbt_timing(run_results: Path) -> DbtTiming:
    """Summarise one run_results.json: dbt's elapsed time, time per node type, slowest nodes."""
    data = json.loads(run_results.read_text())
    node_seconds: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    for result in data["results"]:
        kind = result["unique_id"].split(".")[0]
        node_seconds[kind] += result["execution_time"]
        nodes[kind] += 1
    slowest = sorted(data["results"], key=lambda r: r["execution_time"], reverse=True)[:8]
    return DbtTiming(
        elapsed_seconds=float(data["elapsed_time"]),
        node_seconds=dict(node_seconds),
        nodes=dict(nodes),
        slowest=tuple((r["unique_id"], r["execution_time"]) for r in slowest),
    )


def find_run_results(dbt_target_dir: Path, step_key: str, run_id: str) -> Path | None:
    """dagster-dbt writes each invocation to `target/<step>-<run id[:7]>-<random>/`."""
    matches = sorted(dbt_target_dir.glob(f"{step_key}-{run_id[:7]}-*/run_results.json"))
    return matches[-1] if matches else None


def latest_run_profile(dagster_home: Path, dbt_target_dir: Path) -> RunProfile:
    """The profile of the most recent run recorded in `dagster_home`.

    The benchmark gives every refresh its own fresh DAGSTER_HOME history, so the latest run is
    the one it just measured.
    """
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        runs = instance.get_runs(limit=1)
        if not runs:
            raise RuntimeError(
                f"no Dagster run recorded in {dagster_home}: the refresh did not start a run "
                "(see its log in the benchmark's work dir)"
            )
        run = runs[0]
        entries = instance.all_logs(run.run_id)
    finally:
        instance.dispose()
    return profile_from_events(run.run_id, run.status.value, entries, dbt_target_dir)


def profile_from_events(run_id: str, status: str, entries, dbt_target_dir: Path) -> RunProfile:
    """Build a RunProfile from a run's event log entries (dagster EventLogEntry objects)."""
    if not entries:
        raise RuntimeError(f"run {run_id} has no events; cannot time its stages")
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    prefixes: dict[str, set[str]] = {}
    keys: dict[str, set[str]] = {}
    checked: set[str] = set()
    events: Counter[str] = Counter()
    for entry in entries:
        event = entry.dagster_event
        key = entry.step_key
        if event is None or key is None:
            continue
        events[key] += 1
        kind = event.event_type_value
        if kind == "STEP_START":
            started[key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            finished[key] = entry.timestamp
        elif kind == "ASSET_MATERIALIZATION":
            prefixes.setdefault(key, set()).add(event.asset_key.path[0])
            keys.setdefault(key, set()).add("/".join(event.asset_key.path))
        elif kind == "ASSET_CHECK_EVALUATION":
            checked.add(key)
    steps = tuple(
        StepTiming(
            step_key=key,
            stage=classify_step(
                prefixes.get(key, set()), key in checked, frozenset(keys.get(key, ()))
            ),
            seconds=finished[key] - started[key],
            events=events[key],
        )
        for key in sorted(started, key=started.__getitem__)
        if key in finished
    )
    dbt = {}
    for step in steps:
        if step.stage == "dbt":
            path = find_run_results(dbt_target_dir, step.step_key, run_id)
            if path is not None:
                dbt[step.step_key] = dbt_timing(path)
    first_step_at = min(started.values(), default=entries[-1].timestamp)
    return RunProfile(
        run_id=run_id,
        status=status,
        first_event_at=entries[0].timestamp,
        first_step_at=first_step_at,
        last_event_at=entries[-1].timestamp,
        events=len(entries),
        events_before_first_step=sum(1 for e in entries if e.timestamp < first_step_at),
        steps=steps,
        dbt=dbt,
    )
