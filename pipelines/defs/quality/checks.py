"""Every data-quality asset check of the product, in one list: `checks`.

GX suites validate aggregate profiles computed in DuckDB (gx_checks.py); raw tables are judged
on the batch the run loaded (batch.py), marts on the whole table. The reconciliations compare
whole-table aggregates (every file, every day), so none of them depends on partitions.

| asset | check | blocking |
| --- | --- | --- |
| raw/<table> (8) | gx_critical: critical expectations of expectations/raw_<table>.json | yes |
| raw/<table> (8) | gx_warning: warning expectations of the same suite | no (WARN) |
| raw/<table> (8) | file_rows_reconcile: rows in file = raw + quarantine, every file | yes |
| marts/customer_segments | gx_critical (expectations/mart_customer_segments.json) | yes |
| marts/customer_segments | gx_warning (same suite) | no (WARN) |
| marts/rfm_score_cutoffs | gx_critical (expectations/mart_rfm_score_cutoffs.json) | yes |
| marts/rfm_score_cutoffs | gx_warning (same suite) | no (WARN) |
| marts/fct_transactions | revenue_reconciles_to_raw (every source, day, currency) | yes |
| published/segments_db | freshness: file age <= SEGMENTS_FRESHNESS_MAX_AGE_HOURS | no (WARN) |

A blocking check stops the assets *directly* downstream of the asset it checks, in other
steps (Dagster wires its result into their inputs). dbt models all run in one step, so a
blocking check on a mart gates the publish only if `published/segments_db` depends on that
mart directly: `PUBLISH_GATE_KEYS` lists the marts it must depend on.
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs.quality.freshness import published_freshness
from pipelines.defs.quality.gx_checks import SuiteTarget, build_gx_checks
from pipelines.defs.quality.reconciliation import build_file_rows_check
from pipelines.defs.quality.revenue import FCT_KEY, revenue_reconciles_to_raw
from pipelines.settings import EXPECTATIONS_DIR

# raw.<table> → its source: landing folder, quarantine.<source>, meta.load_manifest.source.
RAW_TABLE_SOURCES: dict[str, str] = {
    "shopify_orders": "shopify",
    "stripe_charges": "stripe",
    "paypal_activity": "paypal",
    "crm_contacts": "crm",
    "fx_rates": "fx",
    "events": "events",
    "support_tickets": "support",
    "generic_transactions": "generic",
}

MART_SUITES: dict[tuple[str, str], str] = {
    ("marts", "customer_segments"): "mart_customer_segments.json",
    ("marts", "rfm_score_cutoffs"): "mart_rfm_score_cutoffs.json",
}

RAW_TARGETS = tuple(
    SuiteTarget(
        asset_key=dg.AssetKey(["raw", table]),
        schema="raw",
        table=table,
        suite_path=EXPECTATIONS_DIR / f"raw_{table}.json",
        per_load=True,
        materialize_hint=f"raw/{table}",
    )
    for table in RAW_TABLE_SOURCES
)

MART_TARGETS = tuple(
    SuiteTarget(
        asset_key=dg.AssetKey([schema, table]),
        schema=schema,
        table=table,
        suite_path=EXPECTATIONS_DIR / suite,
        per_load=False,
        materialize_hint=f"{schema}/{table} (the dbt models)",
        # The same table in the published file is the baseline (publish keeps the name).
        published_table=table,
    )
    for (schema, table), suite in MART_SUITES.items()
)

# The marts whose blocking checks gate the publish: published/segments_db must list each of
# them in its deps (see module docstring), or a failure would not stop the publish.
PUBLISH_GATE_KEYS: tuple[dg.AssetKey, ...] = (*(t.asset_key for t in MART_TARGETS), FCT_KEY)

checks: list[dg.AssetChecksDefinition] = [
    *(build_gx_checks(target) for target in RAW_TARGETS),
    *(build_file_rows_check(table, source) for table, source in RAW_TABLE_SOURCES.items()),
    *(build_gx_checks(target) for target in MART_TARGETS),
    revenue_reconciles_to_raw,
    published_freshness,
]
