"""The publish step of write-audit-publish, as a Dagster asset."""


import json

import dagster as dg

from pipelines import settings as _settings
from pipelines.defs.publish.publish import PUBLISHED_TABLES, publish
from pipelines.defs.quality.checks import PUBLISH_GATE_KEYS
from pipelines.defs.warehouse.project import dbt_project, ensure_manifest


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
    for table in PUBLISHED_TABLES:
        schema, name = table.source.split(".")
        if (schema, name) in defined and dg.AssetKey([schema, name]) not in keys:
            keys.append(dg.AssetKey([schema, name]))
    return keys


@dg.asset(
    key=["published", "segments_db"],
    deps=_mart_keys(),
    group_name="publish",
    kinds={"duckdb"},
)
def published_segments(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The read-only DuckDB file BI tools open: `$SEGMENTS_WAREHOUSE_DIR/segments.duckdb`.

    Runs only after every upstream model and blocking check of the run succeeded
    (write-audit-publish). Builds a new file, checkpoints and closes it, then swaps it in
    with `os.replace`; the pipeline never holds the published file open.
    """
    cfg = _settings.load()
    result = publish(cfg.build_db, cfg.published_db)
    context.log.info(f"published {result.path} ({result.bytes:,} bytes)")
    table_md = "| table | rows |\n| --- | ---: |\n" + "\n".join(
        f"| {name} | {rows:,} |" for name, rows in result.row_counts.items()
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "bytes": result.bytes,
            "tables": dg.MetadataValue.md(table_md),
            **{f"rows_{name}": rows for name, rows in result.row_counts.items()},
        }
    )


assets = [published_segments]
