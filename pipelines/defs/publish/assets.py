"""The publish step of write-audit-publish, as a Dagster asset.

One asset, so that every publish refreshes everything downstream users read, together:
the DuckDB file and its Parquet copy (the critical part: any error leaves the previous
publish in place), then the per-segment CSV exports and the HTML report. The last two run
after the swap; if one of them fails, the asset still records the publish and reports the
failure through its `exports_and_report_written` check (WARN), rather than pretending that
nothing was published.
"""

import json
import traceback

import dagster as dg

from pipelines import settings as _settings
from pipelines.defs.publish.exports import refresh_exports
from pipelines.defs.publish.publish import PUBLISHED_TABLES, publish
from pipelines.defs.publish.quality import checks_of_run
from pipelines.defs.publish.report import segment_sizes_markdown, write_report
from pipelines.defs.publish.schema import load_dbt_column_descriptions
from pipelines.defs.quality.checks import PUBLISH_GATE_KEYS
from pipelines.defs.warehouse.project import dbt_project, ensure_manifest

# Read by the exports and the report (not published): depend on them for lineage.
EXTRA_SOURCES = ("marts.customer_facts", "marts.dim_customers", "marts.fct_transactions")
FOLLOW_UP_CHECK = "exports_and_report_written"


def _mart_keys() -> list[dg.AssetKey]:
    """Asset keys of the dbt models the published file copies (those the project defines)."""
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
    for source in (*(t.source for t in PUBLISHED_TABLES), *EXTRA_SOURCES):
        schema, name = source.split(".")
        if (schema, name) in defined and dg.AssetKey([schema, name]) not in keys:
            keys.append(dg.AssetKey([schema, name]))
    return keys


@dg.asset(
    key=["published", "segments_db"],
    deps=_mart_keys(),
    # `dagster asset materialize --partition-range` needs single-run on every selected asset.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="publish",
    kinds={"duckdb", "parquet", "csv", "html"},
    check_specs=[
        dg.AssetCheckSpec(
            FOLLOW_UP_CHECK,
            asset=dg.AssetKey(["published", "segments_db"]),
            description="The segment exports and the HTML report were rewritten after the publish.",
        )
    ],
)
def published_segments(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The read-only DuckDB file BI tools open: `$SEGMENTS_WAREHOUSE_DIR/segments.duckdb`.

    Grain: one table per published mart (docs/published_schema.md), columns commented from
    the dbt YAML; raw PII only with `SEGMENTS_PUBLISH_PII=true`. Runs only after every
    upstream model and blocking check of the run succeeded (write-audit-publish). Builds a new
    file, checkpoints and closes it, then swaps it in with `os.replace`; the same tables go
    to `parquet/current/` (swapped as a set). Then rewrites `exports/current/` (one CSV per
    segment, consenting customers) and `report.html`.
    """
    cfg = _settings.load()
    result = publish(
        cfg.build_db,
        cfg.published_db,
        include_pii=cfg.include_pii,
        parquet_dir=cfg.parquet_dir,
        column_descriptions=load_dbt_column_descriptions(dbt_project.manifest_path),
    )
    context.log.info(
        f"published {result.path} ({result.bytes:,} bytes), Parquet {result.parquet_dir}"
    )
    if result.skipped:
        context.log.info(f"not built yet, so not published: {', '.join(result.skipped)}")

    table_md = "| table | rows |\n| --- | ---: |\n" + "\n".join(
        f"| {name} | {rows:,} |" for name, rows in result.row_counts.items()
    )
    metadata: dict[str, object] = {
        "path": dg.MetadataValue.path(str(result.path)),
        "bytes": result.bytes,
        "tables": dg.MetadataValue.md(table_md),
        **{f"rows_{name}": rows for name, rows in result.row_counts.items()},
        "segment_sizes": dg.MetadataValue.md(
            segment_sizes_markdown(result.path, cfg.reporting_currency)
        ),
        "parquet": dg.MetadataValue.path(str(result.parquet_dir)),
        "pii_published": cfg.include_pii,
    }
    if result.skipped:
        metadata["not_built_yet"] = ", ".join(result.skipped)

    errors: list[str] = []
    try:
        exports = refresh_exports(cfg.build_db, cfg.exports_dir, cfg.reporting_currency)
        metadata["exports"] = dg.MetadataValue.path(str(cfg.exports_dir / "current"))
        metadata["export_files"] = len(exports.files)
        metadata["export_rows"] = sum(n for _, _, n in exports.files)
    except Exception:  # the publish itself is done; say what failed instead of hiding it
        errors.append(f"exports: {traceback.format_exc(limit=3)}")
        context.log.error(errors[-1])
    try:
        checks = checks_of_run(context.instance, context.run_id)
        report = write_report(
            cfg.build_db,
            result.path,
            cfg.report_path,
            currency=cfg.reporting_currency,
            checks=checks,
        )
        metadata["report"] = dg.MetadataValue.path(str(report.path))
        metadata["as_of_date"] = report.as_of.isoformat()
        if report.missing:
            metadata["report_sections_not_available"] = dg.MetadataValue.md(
                "\n".join(f"- {section}: {why}" for section, why in report.missing.items())
            )
    except Exception:
        errors.append(f"report: {traceback.format_exc(limit=3)}")
        context.log.error(errors[-1])

    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=FOLLOW_UP_CHECK,
                passed=not errors,
                severity=dg.AssetCheckSeverity.WARN,
                description="\n\n".join(errors) or "exports and report rewritten",
            )
        ],
    )


assets = [published_segments]
