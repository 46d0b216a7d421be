"""`load_source`: one file-driven ingest of one source, Dagster-free.

A load of source S reads whatever is new in `landing/S`, whatever dates it holds:

1. List the files under `landing/S`. A 0-byte file (or `*.tmp`, `*.part`, ...) is a file still
   being written: it is skipped with a log line and not recorded, so the next run picks it up.
2. Hash each file. Bytes already loaded under another path are a re-drop: recorded as
   `duplicate_of:<path>`, nothing loaded. Only new or changed files are parsed; a file whose
   bytes (and reader settings) the manifest already has is not read again.
3. Judge every row (per-file rules, then duplicates and orphan refunds across the batch and
   against the rows already loaded).
4. In one transaction per batch of files (~512 MB, bounded memory): delete the earlier rows
   of the files parsed now (a changed file replaces its own rows) from raw.<table> and
   quarantine.S and insert the parsed rows.
   Rows of files no longer in the landing zone (archived after loading) are left alone.
5. Record every file in meta.load_manifest, recount its rows from raw / quarantine.

Bad files: a file that cannot be read at all is recorded as `failed` and loads nothing; the
good files of the run are loaded and committed first, then one `IngestError` names every bad
file, so the Dagster asset fails and the run publishes nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from pipelines import settings as _settings
from pipelines.lib import duck

from . import (
    crm,
    events,
    fx,
    generic,
    manifest,
    paypal,
    shopify,
    stage,
    stripe,
    support,
    tables,
)
from .files import is_ready
from .hash_cache import HashCache
from .landing import Candidate, decide, discover, failed_candidates
from .manifest import DUPLICATE_PREFIX, FAILED, LOADED, ManifestRow
from .spec import IngestError, LandedFile, RunContext, SourceSpec

log = logging.getLogger(__name__)

SOURCES: dict[str, SourceSpec] = {
    m.SPEC.name: m.SPEC for m in (shopify, stripe, paypal, crm, fx, events, support, generic)
}


@dataclass(frozen=True)
class FileResult:
    """What one run did with one landed file. Row counts are what this run inserted."""

    path: str
    status: str  # loaded | unchanged | unloaded | duplicate_of:<path> | not_ready | failed
    rows_in_file: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    """Outcome of one `load_source` run."""

    source: str
    table: str
    files: tuple[FileResult, ...] = ()
    # UTC days of the rows this load inserted or deleted (for the UI; nothing is partitioned)
    partitions_touched: frozenset[date] = field(default_factory=frozenset)

    def _count(self, *statuses: str) -> int:
        return sum(1 for f in self.files if f.status.split(":")[0] in statuses)

    @property
    def files_seen(self) -> int:
        return len(self.files)

    @property
    def files_loaded(self) -> int:
        return self._count("loaded")

    @property
    def files_skipped(self) -> int:
        return self._count("unchanged", "unloaded", "duplicate_of", "not_ready")

    @property
    def duplicates_skipped(self) -> int:
        return self._count("duplicate_of")

    @property
    def files_failed(self) -> int:
        return self._count("failed")

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def run_context(
    now: datetime | None, start_date: date | None, reporting_currency: str | None
) -> RunContext:
    """The run's clock and settings; None falls back to the wall clock / pipelines.settings."""
    now = now or datetime.now(UTC)
    now_utc = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    if start_date is None or reporting_currency is None:
        cfg = _settings.load()
        start_date = start_date or cfg.start_date
        reporting_currency = reporting_currency or cfg.reporting_currency
    return RunContext(
        run_date=now_utc.date(),
        start_date=start_date,
        reporting_currency=reporting_currency.upper(),
        loaded_at=now_utc.replace(tzinfo=None),
    )


# The files one transaction stages and inserts, by size: staged rows are held in a temp table
# until the batch commits, so this bounds the memory of a first load of years of exports
# (DuckDB spills past its memory limit, but less spilled is faster).
BATCH_BYTES = 512 * 1024 * 1024


def file_batches(ranked: list[Candidate], max_bytes: int) -> list[list[Candidate]]:
    """Consecutive runs of `ranked` of at most `max_bytes` each (a bigger file alone); always
    at least one (possibly empty) batch, so files that are not parsed are still recorded."""
    batches: list[list[Candidate]] = [[]]
    size = 0
    for cand in ranked:
        if batches[-1] and size + cand.size > max_bytes:
            batches.append([])
            size = 0
        batches[-1].append(cand)
        size += cand.size
    return batches


def get_spec(source: str) -> SourceSpec:
    """The reader of a source by its landing folder name (ValueError lists the known ones)."""
    try:
        return SOURCES[source]
    except KeyError:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}") from None


# A reload of a changed file that would leave fewer than this share of the rows it has in raw
# (a file rewritten as header-only, a truncated re-export) is refused unless the user allows
# it (SEGMENTS_ALLOW_SHRINKING_RELOAD=true, `segments run --allow-shrink`, or retracting the
# file first with `segments unload`): rows leave raw only when someone says so.
MIN_RELOAD_SHARE = 0.5


def refuse_shrinking_reloads(
    con: duckdb.DuckDBPyConnection, ranked: list[Candidate], allow: bool
) -> None:
    """Mark `refused` (and unstage) each changed file whose new bytes keep fewer than
    MIN_RELOAD_SHARE of the rows its last load put in raw; its earlier rows stay. A re-parse
    of the same bytes under new settings (SEGMENTS_START_DATE, mapping.yml) is the user's
    own doing and goes through."""
    if allow:
        return
    good = dict(
        con.execute(
            f"SELECT _source_file, count(*) FILTER (reason_code IS NULL) FROM {stage.STAGED} "
            "GROUP BY ALL"
        ).fetchall()
    )
    for cand in ranked:
        known = cand.known
        if cand.action != "parse" or known is None or known.status != LOADED:
            continue
        if known.file_sha256 == cand.sha256:
            continue  # same bytes, new reader settings (start date, mapping.yml): asked for
        before, after = known.rows_loaded or 0, good.get(cand.file.rel, 0)
        if before and after < before * MIN_RELOAD_SHARE:
            cand.action = "refused"
            cand.error = (
                f"{cand.file.rel}: changed, and its new version would leave {after} of the "
                f"{before} rows it has loaded (fewer than {MIN_RELOAD_SHARE:.0%}); its earlier "
                "rows are kept. If that is intended, re-run with `segments run --allow-shrink` "
                "(or SEGMENTS_ALLOW_SHRINKING_RELOAD=true), or retract the file with "
                "`segments unload` first."
            )
            log.error("%s", cand.error)
            con.execute(f"DELETE FROM {stage.STAGED} WHERE _source_file = ?", [cand.file.rel])


def _stage_files(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, ctx: RunContext, ranked: list[Candidate]
) -> dict[str, tuple[LandedFile, str] | IngestError | None]:
    """Read and judge `ranked` into `_staged`, several files at a time: one worker thread
    per DuckDB thread, each on its own cursor (a file of fewer than ~120k rows is one unit
    of DuckDB's parallelism, so one file at a time left a core idle: ingest ran at ~100% of
    one core). Returns, per file: (file, encoding) when its good rows still need their raw
    text (`fill_raw_records`), the IngestError that failed it, or None."""
    outcomes: dict[str, tuple[LandedFile, str] | IngestError | None] = {}
    todo = list(enumerate(ranked, start=1))
    lock = threading.Lock()

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        stage.register_helpers(cur)
        stager = stage.Stager(cur, spec, ctx)
        while True:
            with lock:
                if not todo:
                    break
                rank, cand = todo.pop(0)
            try:
                encoding = stager.stage(cand.file, rank)
            except IngestError as exc:
                outcomes[cand.file.rel] = exc
                continue
            outcomes[cand.file.rel] = (cand.file, encoding) if encoding is not None else None
        outcomes.update(stager.finish())

    # a worker's unexpected error (or Ctrl-C) fails the load
    duck.on_worker_cursors(con, work, len(ranked), f"ingest-{spec.name}")
    return outcomes


def stage_all(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    to_parse: list[Candidate],
    ctx: RunContext,
    *,
    allow_shrink: bool = False,
) -> None:
    """Stage and judge every file to parse; a file that cannot be read becomes a failed
    candidate (and loads nothing), a reload that would drop most of a file's rows a refused
    one (its earlier rows stay)."""
    stage.create_staged(con, spec)
    ranked = sorted(to_parse, key=lambda c: (c.first_seen_at, c.file.rel))
    lazy: dict[str, tuple[LandedFile, str]] = {}
    outcomes = _stage_files(con, spec, ctx, ranked)
    for cand in ranked:
        outcome = outcomes.get(cand.file.rel)
        if isinstance(outcome, IngestError):
            cand.action, cand.error = "failed", str(outcome)
            log.error("%s", outcome)
        elif outcome is not None:
            lazy[cand.file.rel] = outcome
    refuse_shrinking_reloads(con, ranked, allow_shrink)
    stage.mark_no_partition(con)
    stage.mark_duplicates(con, spec, f"raw.{spec.table}")
    stage.mark_orphans(con, spec, f"raw.{spec.table}")
    stage.fill_raw_records(con, lazy)


def _manifest_row(
    spec: SourceSpec,
    cand: Candidate,
    stats: dict[str, tuple[int, date | None, date | None]],
    ctx: RunContext,
) -> ManifestRow | None:
    """The manifest row after this run, or None to keep the existing one (unchanged)."""
    known = cand.known
    if cand.action in ("unchanged", "unloaded", "refused"):
        return None  # the manifest keeps what it had (a refused file keeps its rows)
    if cand.action == "duplicate":
        n, lo, hi, loaded_at = 0, None, None, None
        status, error = DUPLICATE_PREFIX + (cand.duplicate_of or ""), None
    elif cand.action == "failed":
        n, lo, hi, loaded_at = None, None, None, known.loaded_at if known else None
        status, error = FAILED, cand.error
    else:
        n, lo, hi = stats.get(cand.file.rel, (0, None, None))
        loaded_at, status, error = ctx.loaded_at, LOADED, None
    return ManifestRow(
        source=spec.name,
        file_path=cand.file.rel,
        file_sha256=cand.sha256,
        file_bytes=cand.size,
        status=status,
        error=error,
        rows_in_file=n,
        rows_loaded=0,
        rows_quarantined=0,
        rows_waiting=0 if status == LOADED else None,  # file-driven: no row waits for a day
        min_partition_date=lo,
        max_partition_date=hi,
        first_seen_at=cand.first_seen_at,
        loaded_at=loaded_at,
        reader_fingerprint=cand.fingerprint,
    )


def _file_result(
    cand: Candidate,
    stats: dict[str, tuple[int, date | None, date | None]],
    counts: dict[str, tuple[int, int]],
) -> FileResult:
    rel = cand.file.rel
    if cand.action == "parse":
        loaded, quarantined = counts.get(rel, (0, 0))
        return FileResult(rel, "loaded", stats.get(rel, (0,))[0], loaded, quarantined)
    if cand.action == "duplicate":
        return FileResult(rel, DUPLICATE_PREFIX + (cand.duplicate_of or ""))
    if cand.action in ("failed", "refused"):
        return FileResult(rel, FAILED, error=cand.error)
    if cand.action == "unloaded":
        return FileResult(rel, "unloaded")
    return FileResult(rel, "unchanged", cand.known.rows_in_file if cand.known else None)


def load_source(
    source: str,
    landing_dir: Path,
    build_db: Path,
    *,
    now: datetime | None = None,
    start_date: date | None = None,
    reporting_currency: str | None = None,
    batch_bytes: int = BATCH_BYTES,
    allow_shrink: bool = False,
) -> LoadResult:
    """Load the new or changed landed files of `source` into the build database.

    Files are staged and committed in batches of about `batch_bytes` (one transaction each,
    oldest first): a failure keeps the batches committed before it, each file whole.

    `now` (default: wall clock) dates the load and bounds `future_date`; `start_date` and
    `reporting_currency` default to pipelines.settings. Raises IngestError naming every file
    that could not be read (or whose reload would drop most of its rows, unless
    `allow_shrink`), after loading and committing the good ones.
    """
    spec = get_spec(source)
    ctx = run_context(now, start_date, reporting_currency)
    landing_dir = Path(landing_dir)
    files, failures = discover(spec, landing_dir)
    not_ready = [f for f in files if not is_ready(f.path)]
    for f in not_ready:
        log.info("%s: empty or still being written; skipped until it has content", f.rel)
    ready = [f for f in files if is_ready(f.path)]

    stats: dict[str, tuple[int, date | None, date | None]] = {}
    counts: dict[str, tuple[int, int]] = {}
    touched: set[date] = set()
    with duck.connect(build_db) as con:
        tables.ensure_tables(con, spec)
        known = manifest.read(con, spec.name)
        hashes = HashCache(con, spec.name)
        candidates = decide(spec, ready, known, ctx, hashes)
        candidates += failed_candidates(landing_dir, failures, known, ctx, hashes)
        hashes.save(con)
        log.info(
            "%s: %d file(s) hashed, %d hash(es) reused", spec.name, hashes.hashed, hashes.reused
        )
        to_parse = sorted(
            (c for c in candidates if c.action == "parse"),
            key=lambda c: (c.first_seen_at, c.file.rel),
        )
        others = [c for c in candidates if c.action != "parse"]
        batches = file_batches(to_parse, batch_bytes)
        for i, batch in enumerate(batches):
            # Earlier batches are committed: the batch rules see their rows in raw.
            stage_all(con, spec, batch, ctx, allow_shrink=allow_shrink)
            parsed = [c.file.rel for c in batch if c.action == "parse"]
            tables.paths_table(con, "_parsed_files", parsed)
            stats |= tables.file_stats(con)
            counts |= tables.insert_counts(con)
            touched |= tables.touched_partitions(con, spec)
            recorded = batch + (others if i == len(batches) - 1 else [])
            con.execute("BEGIN TRANSACTION")
            try:
                tables.replace_rows(con, spec)
                rows = [_manifest_row(spec, c, stats, ctx) for c in recorded]
                manifest.upsert(con, [r for r in rows if r is not None])
                manifest.refresh_counts(
                    con,
                    spec.name,
                    f"raw.{spec.table}",
                    f"quarantine.{spec.quarantine}",
                    files=[c.file.rel for c in recorded],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        con.execute(f"DROP TABLE IF EXISTS {stage.STAGED}")

    results = [_file_result(c, stats, counts) for c in candidates]
    results += [FileResult(f.rel, "not_ready") for f in not_ready]
    recorded = {c.file.rel for c in candidates}
    results += [
        FileResult(p, FAILED, error=m) for p, m in sorted(failures.items()) if p not in recorded
    ]
    result = LoadResult(
        spec.name,
        spec.table,
        tuple(sorted(results, key=lambda r: r.path)),
        frozenset(touched),
    )
    log.info(
        "%s: %d file(s) loaded, %d skipped, %d failed; %d rows loaded, %d quarantined",
        spec.name,
        result.files_loaded,
        result.files_skipped,
        result.files_failed,
        result.rows_loaded,
        result.rows_quarantined,
    )
    bad = {r.path: r.error or "" for r in result.files if r.status == FAILED}
    if bad:
        lines = "\n".join(f"  - {msg}" for msg in bad.values())
        raise IngestError(
            f"{len(bad)} {spec.name} file(s) could not be loaded (the other files were "
            f"loaded):\n{lines}\nFix or remove these files in the landing zone and re-run.",
            failures=bad,
            result=result,
        )
    return result
