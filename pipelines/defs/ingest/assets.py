"""Dagster ingest assets: one per raw table, keyed `["raw", <table>]` like dbt's sources.

File-driven, not partitioned: each run loads whatever is new in `landing/<source>/` through
`loader.load_source` (the Dagster-free logic), whatever dates it holds, and reports what it
did per file. One materialization per source per run, however many days the files hold (a
daily-partitioned ingest wrote 730 x 8 events for a two-year refresh). The build database is
opened and closed inside the asset: DuckDB allows one writer per file, and the next step must
be able to open it.
"""

# No `from __future__ import annotations` here: Dagster checks the `context` annotation
# against the real class, and a postponed (string) annotation fails that check.
import dagster as dg

from pipelines.lib import gx
from pipelines.lib.duck import connect, table_exists
from pipelines.resources import SegmentsSettings

from . import layout, share
from .loader import SOURCES, LoadResult, load_source
from .spec import IngestError, SourceSpec

MAX_FILES_SHOWN = 50  # rows of the per-file Markdown table
# Set by `segments run` / `segments backfill`, which check the landing layout before the run
# starts (pipelines/cli.py): the ingest assets then do not check it again.
LAYOUT_CHECKED_TAG = "segments/landing_layout_checked"
FIRST_SOURCE = next(iter(SOURCES))  # the one ingest step that logs a layout warning


def check_layout(context: dg.AssetExecutionContext, source: str, cfg) -> None:
    """The landing-layout check of `segments run` for every other way a run starts
    (schedule, sensor, UI): an empty or missing landing dir with nothing loaded before fails
    the ingest in one line with the expected layout; files where no source reads them are
    one warning (logged by the first source's step only)."""
    if context.run.tags.get(LAYOUT_CHECKED_TAG):
        return
    found = layout.scan(cfg.landing_dir)
    finding = layout.check(found)
    if finding is not None and finding.level == "error" and cfg.build_db.exists():
        with connect(cfg.build_db, read_only=True) as con:
            loaded = (
                con.execute(
                    "select count(*) from meta.load_manifest where status = 'loaded'"
                ).fetchone()[0]
                if table_exists(con, "meta", "load_manifest")
                else 0
            )
        finding = layout.check(found, loaded)
    if finding is None:
        return
    if finding.level == "error":
        raise dg.Failure(
            description=finding.message.replace("Nothing was run.", "Nothing is loaded."),
            allow_retries=False,
        )
    if source == FIRST_SOURCE:
        context.log.warning(f"{finding.level}: {finding.message}")


def files_markdown(result: LoadResult) -> str:
    """Per-file table for the Dagster UI: what this run did with each landed file."""
    lines = [
        "| file | status | rows in file | loaded | quarantined | error |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for f in result.files[:MAX_FILES_SHOWN]:
        error = (f.error or "").replace("|", "\\|").replace("\n", " ")
        rows = "" if f.rows_in_file is None else f.rows_in_file
        lines.append(
            f"| `{f.path}` | {f.status} | {rows} | {f.rows_loaded} | {f.rows_quarantined} "
            f"| {error} |"
        )
    if len(result.files) > MAX_FILES_SHOWN:
        lines.append(f"\n… and {len(result.files) - MAX_FILES_SHOWN} more files.")
    if not result.files:
        lines.append("| (no files landed) | | | | | |")
    return "\n".join(lines)


def result_metadata(result: LoadResult) -> dict[str, dg.MetadataValue]:
    touched = sorted(result.partitions_touched)
    return {
        "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "files_loaded": dg.MetadataValue.int(result.files_loaded),
        "files_skipped": dg.MetadataValue.int(result.files_skipped),
        "redrops_skipped": dg.MetadataValue.int(result.duplicates_skipped),
        "files_failed": dg.MetadataValue.int(result.files_failed),
        "days_touched": dg.MetadataValue.int(len(touched)),
        "day_range": dg.MetadataValue.text(f"{touched[0]} … {touched[-1]}" if touched else "none"),
        "files": dg.MetadataValue.md(files_markdown(result)),
    }


def build_ingest_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """The asset that loads `landing/<spec.name>/` into raw.<spec.table>."""

    @dg.asset(
        key=dg.AssetKey(["raw", spec.table]),
        description=spec.description,
        # Single-run like every asset of the job: a backfill over a range of as-of dates is
        # one run (`dagster asset materialize --partition-range` requires it of all assets).
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"duckdb"},
    )
    def _ingest(
        context: dg.AssetExecutionContext, settings: SegmentsSettings
    ) -> dg.MaterializeResult:
        cfg = settings.get()
        check_layout(context, spec.name, cfg)
        gx.prepare_in_background()  # the raw tables' checks come next
        try:
            result = load_source(
                spec.name,
                cfg.landing_dir,
                cfg.build_db,
                start_date=cfg.start_date,
                reporting_currency=cfg.reporting_currency,
                allow_shrink=cfg.allow_shrinking_reload,
            )
        except IngestError as exc:
            # The good files are loaded; fail the asset so the run publishes nothing.
            metadata = result_metadata(exc.result) if exc.result is not None else {}
            raise dg.Failure(description=str(exc), metadata=metadata) from exc
        for f in result.files:
            if f.status == "not_ready":
                context.log.info(f"{f.path}: empty or still being written; will load next run")
        # A file mostly quarantined (a wrong timestamp_format, the wrong export): stop here,
        # so dbt and the publish never start, with a message that points at the fix.
        with connect(cfg.build_db, read_only=True) as con:
            heavy = share.heavy_files(
                con, spec.name, f"quarantine.{spec.quarantine}", cfg.max_quarantine_share
            )
        if heavy:
            raise dg.Failure(
                description=share.message(
                    spec.name, heavy, cfg.landing_dir, cfg.max_quarantine_share
                ),
                metadata=result_metadata(result),
                allow_retries=False,
            )
        return dg.MaterializeResult(metadata=result_metadata(result))

    return _ingest


assets = [build_ingest_asset(spec) for spec in SOURCES.values()]
