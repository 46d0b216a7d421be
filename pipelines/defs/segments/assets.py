"""Analyst-defined dynamic segments as a Dagster asset.

The definitions (`dbt_project/segments/*.yml`, or `$SEGMENTS_DEFINITIONS_DIR`) are validated
when this module is imported, i.e. when the code location loads: a bad file stops the load
with a message naming the file, the line and the condition, before anything runs.
"""

from collections.abc import Sequence

import dagster as dg

from pipelines.defs.segments.dynamic import SegmentDefinition, definitions_dir, load_definitions
from pipelines.defs.segments.evaluate import SegmentResult, evaluate_segments
from pipelines.resources import BuildDatabase

UPSTREAM = (
    dg.AssetKey(["marts", "customer_facts"]),
    dg.AssetKey(["marts", "customer_segments"]),
    # prediction columns (probability_alive, predicted_clv_365_days, ...): a Python asset
    dg.AssetKey(["marts", "customer_predictions"]),
)


def refresh_dynamic_segments(
    build_db: BuildDatabase, definitions: Sequence[SegmentDefinition]
) -> list[SegmentResult]:
    """Evaluate the definitions in the build database for the run's as-of dates."""
    with build_db.connect() as con:
        return evaluate_segments(con, definitions)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def definitions_markdown(definitions: Sequence[SegmentDefinition]) -> str:
    """The definitions as a Markdown table (shown on the asset in the Dagster UI)."""
    lines = ["| segment | description | file |", "| --- | --- | --- |"]
    lines += [
        f"| {d.name} | {_cell(d.description)} | {d.source_file.as_posix()} |" for d in definitions
    ]
    return "\n".join(lines)


def members_markdown(results: Sequence[SegmentResult]) -> str:
    """Members per segment on the latest as-of date it was evaluated for, as Markdown."""
    lines = [
        "| segment | members | as of | as-of dates evaluated |",
        "| --- | ---: | --- | ---: |",
    ]
    lines += [
        f"| {r.name} | {r.members:,} | {r.latest_as_of_date or '-'} | {r.as_of_dates} |"
        for r in results
    ]
    return "\n".join(lines)


def build_asset(definitions: Sequence[SegmentDefinition]) -> dg.AssetsDefinition:
    """The dynamic-segments asset for a fixed, already validated list of definitions."""

    @dg.asset(
        key=["marts", "dynamic_segment_members"],
        deps=list(UPSTREAM),
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="marts",
        kinds={"duckdb"},
        metadata={"definitions": dg.MetadataValue.md(definitions_markdown(definitions))},
    )
    def dynamic_segment_members(
        context: dg.AssetExecutionContext, build_db: BuildDatabase
    ) -> dg.MaterializeResult:
        """Analyst-defined segments: one row per as-of date, segment and member customer.

        Each segment is a YAML file in dbt_project/segments/ (conditions on customer_facts and
        customer_segments columns). Every run recomputes the as-of dates in
        meta.run_as_of_dates (delete-then-insert, so history accumulates and reruns are
        idempotent) and replaces marts.dynamic_segments, the list of current definitions.
        Segments on RFM or other label columns get members on the latest as-of date only.
        """
        results = refresh_dynamic_segments(build_db, definitions)
        for result in results:
            context.log.info(
                f"{result.name}: {result.members:,} members as of {result.latest_as_of_date}"
            )
        return dg.MaterializeResult(
            metadata={
                "members": dg.MetadataValue.md(members_markdown(results)),
                "segments": len(results),
                **{f"members_{r.name}": r.members for r in results},
            }
        )

    return dynamic_segment_members


# Validated at import, i.e. when the code location loads.
DEFINITIONS = load_definitions(definitions_dir())
assets = [build_asset(DEFINITIONS)]
