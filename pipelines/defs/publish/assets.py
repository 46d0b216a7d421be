"""The publish side of write-audit-publish, as four Dagster assets.

    published/segments_db ──▶ published/parquet
            │            └──▶ published/segment_exports
            └───────────────▶ published/report

`published/segments_db` is the gate: it runs only after every upstream model and blocking
check of the run succeeded, and publishes the BI file `segments.duckdb` together with its
private companion `audited.duckdb` (audited.py). The other three are separate assets that
read those published files, never the build database, so what they serve is always audited
data; each can fail, be retried or be re-materialised alone without touching the others.
"""

import json

import dagster as dg

from pipelines.defs.publish.audited import publish_with_audited
from pipelines.defs.publish.contract_doc import load_dbt_column_descriptions
from pipelines.defs.publish.exports import refresh_exports
from pipelines.defs.publish.parquet import refresh_parquet
from pipelines.defs.publish.publish import PREDICTION_TABLES, PUBLISHED_TABLES, PublishResult
from pipelines.defs.publish.quality import checks_of_run
from pipelines.defs.publish.report import segment_sizes_markdown, write_report
from pipelines.defs.quality.checks import PUBLISH_GATE_KEYS
from pipelines.defs.warehouse.project import dbt_project, ensure_manifest
from pipelines.resources import SegmentsSettings

PUBLISHED_KEY = dg.AssetKey(["published", "segments_db"])
PARQUET_KEY = dg.AssetKey(["published", "parquet"])
EXPORTS_KEY = dg.AssetKey(["published", "segment_exports"])
REPORT_KEY = dg.AssetKey(["published", "report"])

# Published into audited.duckdb for the exports and the report: depend on them for lineage.
EXTRA_SOURCES = ("marts.customer_facts", "marts.dim_customers", "marts.fct_transactions")


def _mart_keys() -> list[dg.AssetKey]:
    """Asset keys of the dbt models the published files copy (those the project defines)."""
    manifest = json.loads(ensure_manifest().read_text())
    defined = {
        (node["config"].get("schema"), node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }
    # Direct deps on every mart with a blocking check: only then does a failed check skip
    # this step (Dagster gates the assets directly downstream of a checked asset).
    keys = list(PUBLISH_GATE_KEYS)
    # Analyst-defined segments are a Python asset, not a dbt model.
    keys.append(dg.AssetKey(["marts", "dynamic_segment_members"]))
    # So are the CLV model's tables (pipelines/defs/predictions): their gates are not blocking.
    keys += [dg.AssetKey(["marts", name]) for name in PREDICTION_TABLES]
    for source in (*(t.source for t in PUBLISHED_TABLES), *EXTRA_SOURCES):
        schema, name = source.split(".")
        if (schema, name) in defined and dg.AssetKey([schema, name]) not in keys:
            keys.append(dg.AssetKey([schema, name]))
    return keys


def _changes_markdown(result: PublishResult) -> str:
    lines = ["| table | rows | this publish |", "| --- | ---: | --- |"]
    for name, change in result.changes.items():
        rows = result.row_counts.get(name)
        lines.append(f"| {name} | {'' if rows is None else f'{rows:,}'} | {change} |")
    return "\n".join(lines)


@dg.asset(
    key=PUBLISHED_KEY,
    deps=_mart_keys(),
    # `dagster asset materialize --partition-range` needs single-run on every selected asset.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publish",
    kinds={"duckdb"},
)
def published_segments(
    context: dg.AssetExecutionContext, settings: SegmentsSettings
) -> dg.MaterializeResult:
    """The read-only DuckDB file BI tools open: `$SEGMENTS_WAREHOUSE_DIR/segments.duckdb`
    (and `audited.duckdb` beside it, PII for exports and the report's inputs; not for BI).

    Grain: one table per published mart (docs/published_schema.md), columns commented from
    the dbt YAML; raw PII only with `SEGMENTS_PUBLISH_PII=true`. Runs only after every
    upstream model and blocking check of the run succeeded (write-audit-publish).
    Incremental: starts from a copy of the current file and rewrites only tables (or as-of
    dates of history tables) whose content changed; checkpoints, closes, `os.replace`.
    """
    cfg = settings.get()
    result, audited = publish_with_audited(
        cfg.build_db,
        cfg.published_db,
        include_pii=cfg.include_pii,
        column_descriptions=load_dbt_column_descriptions(dbt_project.manifest_path),
    )
    context.log.info(
        f"published {result.path} ({result.bytes:,} bytes, {result.mode}, "
        f"{result.seconds:.2f} s) and {audited.path} ({audited.mode}, {audited.seconds:.2f} s)"
    )
    if result.skipped:
        context.log.info(f"not built yet, so not published: {', '.join(result.skipped)}")
    metadata: dict[str, object] = {
        "path": dg.MetadataValue.path(str(result.path)),
        "bytes": result.bytes,
        "mode": result.mode,
        "publish_seconds": round(result.seconds, 3),
        "tables": dg.MetadataValue.md(_changes_markdown(result)),
        **{f"rows_{name}": rows for name, rows in result.row_counts.items()},
        "segment_sizes": dg.MetadataValue.md(
            segment_sizes_markdown(result.path, cfg.reporting_currency)
        ),
        "audited_file": dg.MetadataValue.path(str(audited.path)),
        "audited_tables": dg.MetadataValue.md(_changes_markdown(audited)),
        "audited_seconds": round(audited.seconds, 3),
        "pii_published": cfg.include_pii,
    }
    if result.skipped:
        metadata["not_built_yet"] = ", ".join(result.skipped)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=PARQUET_KEY,
    deps=[PUBLISHED_KEY],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publish",
    kinds={"parquet"},
)
def published_parquet(
    context: dg.AssetExecutionContext, settings: SegmentsSettings
) -> dg.MaterializeResult:
    """Every table of the published file as Parquet in `$SEGMENTS_WAREHOUSE_DIR/parquet/
    current/` (a history table: one file per as-of date), swapped in as one version; tables
    and as-of dates unchanged since the last version are hard-linked, not rewritten. Reads the
    published file only."""
    cfg = settings.get()
    result = refresh_parquet(cfg.published_db, cfg.parquet_dir)
    dates = result.slices_written or {}
    written = [f"{t} ({dates[t]} as-of dates)" if t in dates else t for t in result.written]
    context.log.info(
        f"Parquet {result.folder}: wrote {', '.join(written) or 'nothing'}; "
        f"reused {', '.join(result.reused) or 'nothing'}"
    )
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(result.folder)),
            "tables_written": len(result.written),
            "tables_reused": len(result.reused),
            "written": ", ".join(written) or "none",
            "as_of_dates_written": sum(dates.values()),
        }
    )


@dg.asset(
    key=EXPORTS_KEY,
    deps=[PUBLISHED_KEY],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publish",
    kinds={"csv"},
)
def segment_exports(
    context: dg.AssetExecutionContext, settings: SegmentsSettings
) -> dg.MaterializeResult:
    """One CSV per segment of every family (consenting members) in `exports/current/`,
    swapped in as a set, from the published files (audited.py)."""
    cfg = settings.get()
    exports = refresh_exports(
        cfg.published_db, cfg.exports_dir, cfg.reporting_currency, cfg.export_consent
    )
    metadata: dict[str, object] = {
        "exports": dg.MetadataValue.path(str(cfg.exports_dir / "current")),
        "export_files": len(exports.files),
        "export_rows": sum(n for _, _, n in exports.files),
        "as_of_date": exports.as_of.isoformat(),
    }
    for note in exports.consent_notes:
        context.log.warning(note)
    if exports.consent_notes:
        metadata["sources_without_consent_data"] = dg.MetadataValue.md(
            "\n".join(f"- {note}" for note in exports.consent_notes)
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publish",
    kinds={"html"},
)
def segment_report(
    context: dg.AssetExecutionContext, settings: SegmentsSettings
) -> dg.MaterializeResult:
    """`$SEGMENTS_WAREHOUSE_DIR/report.html`, from the published files and this run's
    check results."""
    cfg = settings.get()
    report = write_report(
        cfg.published_db,
        cfg.report_path,
        currency=cfg.reporting_currency,
        checks=checks_of_run(context.instance, context.run_id),
    )
    metadata: dict[str, object] = {
        "report": dg.MetadataValue.path(str(report.path)),
        "as_of_date": report.as_of.isoformat(),
    }
    if report.missing:
        metadata["report_sections_not_available"] = dg.MetadataValue.md(
            "\n".join(f"- {section}: {why}" for section, why in report.missing.items())
        )
    return dg.MaterializeResult(metadata=metadata)


assets = [published_segments, published_parquet, segment_exports, segment_report]
