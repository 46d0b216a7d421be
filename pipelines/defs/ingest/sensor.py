"""The landing-zone sensor: a new file in `landing/<source>/` starts one `refresh` run.

Each tick (at most once a minute) looks for files that are new or changed since the last
load: bytes the load manifest has not seen under that path. A re-dropped file (the same
bytes under another name) and a file whose last load attempt already failed with the same
bytes are not new. The tick requests ONE run over the partitions the new files touch, with a
`run_key` made of their content hashes, so the same bytes never start a second run (Dagster
drops a run request whose key it has seen; the cursor also remembers the last key).

The run's range ends at the latest complete day, not at the last day a file touches:
`customer_segments` is computed as of the run's last partition, and a run ending on an
older day (a late file for last month) would publish older segments over newer ones. A new
file whose rows all fall outside the partitions (reference data dated today, unreadable
files) still gets a run for the latest day, so a broken file fails loudly in a run that
names it instead of waiting for the schedule.

An empty or missing landing directory requests nothing; the skip reason names the directory
and the layout the sources expect (pipelines/defs/ingest/layout.py), as do files lying where no
source reads them.

While a run holds the warehouse (pipelines/lib/runlock.py; DuckDB allows one writer, and it
blocks readers in other processes), the tick is skipped without opening the build database;
the next one looks again.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation.

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

from pipelines import settings as _settings
from pipelines.defs.jobs import refresh_job
from pipelines.lib import runlock
from pipelines.lib.duck import DatabaseBusyError, connect
from pipelines.lib.partitions import AS_OF

from . import layout, manifest
from .files import is_ready
from .hash_cache import HashCache
from .landing import Candidate, decide, discover, failed_candidates
from .loader import SOURCES, run_context
from .manifest import FAILED, LOADED, UNLOADED

# Each tick hashes every landed file (sha256, ~1 GB/s): once a minute is plenty.
MINIMUM_INTERVAL_SECONDS = 60
MAX_FILES_NAMED = 10  # in the tick's log line and the run's tag


@dataclass(frozen=True)
class NewFile:
    """A landed file whose bytes no load has handled yet."""

    source: str
    path: str  # relative to the landing dir, like `_source_file`
    sha256: str
    replaces: str | None = None  # the sha256 the manifest has for this path (a changed file)


def _is_handled(cand: Candidate) -> bool:
    """The manifest already has these bytes under this path: loaded (with the same reader
    settings), or failed. A failed file changes nothing until it is fixed (new bytes)."""
    known = cand.known
    if known is None or known.file_sha256 != cand.sha256:
        return False
    return known.status in (FAILED, UNLOADED) or (
        known.status == LOADED and (known.reader_fingerprint or "") == cand.fingerprint
    )


def new_files(cfg: _settings.Settings, now: datetime | None = None) -> list[NewFile]:
    """Files of every source that are new or changed since the last load (re-drops excluded).

    Reads the manifest read-only, once: raises DatabaseBusyError while a run holds the build
    DB. Files still being written (0 bytes, `*.part`, ...) are not ready and not new yet.
    """
    ctx = run_context(now, cfg.start_date, cfg.reporting_currency)
    landed = {name: discover(spec, cfg.landing_dir) for name, spec in SOURCES.items()}
    if not any(files or failures for files, failures in landed.values()):
        return []  # an empty landing zone: no need to open the build database
    with connect(cfg.build_db, read_only=True) as con:
        known = {name: manifest.read(con, name) for name in landed}
        hashes = {name: HashCache(con, name) for name in landed}
    found: list[NewFile] = []
    for name, (files, failures) in landed.items():
        ready = [f for f in files if is_ready(f.path)]
        candidates = decide(SOURCES[name], ready, known[name], ctx, hashes[name])
        candidates += failed_candidates(cfg.landing_dir, failures, known[name], ctx, hashes[name])
        found += [
            NewFile(name, c.file.rel, c.sha256, c.known.file_sha256 if c.known else None)
            for c in candidates
            if c.action in ("parse", "failed") and not _is_handled(c)
        ]
    return found


def run_key(files: Iterable[NewFile]) -> str:
    """The same new bytes give the same key, whatever the files are called, so Dagster never
    starts two runs for them. The bytes a changed file replaces are part of the key: a file
    edited back to an earlier version (A → B → A) is new again and must not reuse A's key."""
    parts = sorted({f"{f.sha256}<{f.replaces or ''}" for f in files})
    digest = hashlib.sha256("\n".join(parts).encode())
    return f"landing-{digest.hexdigest()[:24]}"


def run_request(files: list[NewFile], as_of: date) -> dg.RunRequest:
    """One run of `refresh` for the as-of date `as_of` that loads the new files."""
    named = ", ".join(f.path for f in files[:MAX_FILES_NAMED])
    more = f" and {len(files) - MAX_FILES_NAMED} more" if len(files) > MAX_FILES_NAMED else ""
    tags = {"segments/trigger": "landing_zone_sensor", "segments/new_files": named + more}
    return dg.RunRequest(run_key=run_key(files), partition_key=as_of.isoformat(), tags=tags)


def last_complete_day(now: datetime) -> date | None:
    """The latest daily partition that exists at `now` (yesterday, UTC), None before the first."""
    with dg.partition_loading_context(effective_dt=now):
        key = AS_OF.get_last_partition_key()
    return date.fromisoformat(key) if key else None


def evaluate(
    cfg: _settings.Settings, cursor: str | None, now: datetime
) -> dg.RunRequest | dg.SkipReason:
    """One tick, Dagster-free apart from the result type: a RunRequest or why there is none."""
    last = last_complete_day(now)
    if last is None:
        return dg.SkipReason(f"no as-of date exists yet (they start at {AS_OF.start.date()})")
    try:
        # Read the manifest only while no run holds the warehouse, holding it shared: a run
        # starting meanwhile waits a moment instead of failing on a locked build database.
        with runlock.reading(cfg.warehouse_dir) as free:
            if not free:
                holder = runlock.read_holder(cfg.warehouse_dir)
                who = holder.describe() if holder else "a run"
                return dg.SkipReason(f"{who} holds the warehouse; next tick")
            found = new_files(cfg, now)
        if not found:
            # Quiet on an empty or misspelled landing zone (no run would load anything), but
            # the skip reason says where files were looked for and the layout expected.
            finding = layout.check(layout.scan(cfg.landing_dir))
            more = f" ({finding.message})" if finding is not None else ""
            return dg.SkipReason(f"no new or changed files in {cfg.landing_dir}{more}")
        key = run_key(found)
        if key == cursor:
            return dg.SkipReason(
                f"a run was already requested for these {len(found)} new file(s) ({key}); "
                "nothing changed since"
            )
    except DatabaseBusyError as exc:
        return dg.SkipReason(f"the build database is busy (a run is writing it); next tick. {exc}")
    return run_request(found, last)


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    description=(
        "Starts one `refresh` run (as of the latest complete day) when new files land in the "
        "landing zone; the run loads them whatever dates they hold. A file is identified by "
        "its content, so re-dropping the same bytes under another name starts nothing."
    ),
)
def landing_zone_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    cfg = _settings.load()
    outcome = evaluate(cfg, context.cursor, datetime.now(UTC))
    if isinstance(outcome, dg.SkipReason):
        return outcome
    context.log.info(
        f"new files: {outcome.tags['segments/new_files']}; requesting run {outcome.run_key}"
    )
    return dg.SensorResult(run_requests=[outcome], cursor=outcome.run_key)


sensors = [landing_zone_sensor]
