"""Freshness of the published file: warn when BI tools read data older than the threshold."""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of an
# asset check at definition time and does not resolve string annotations.

import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.resources import SegmentsSettings

PUBLISHED_KEY = dg.AssetKey(["published", "segments_db"])
FRESHNESS_CHECK = "freshness"


def published_age_hours(path: Path, now: float | None = None) -> float | None:
    """Hours since `path` was last replaced (its mtime: publish swaps in a new file), or None
    when it does not exist."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return ((now if now is not None else time.time()) - mtime) / 3600


@dg.asset_check(
    asset=PUBLISHED_KEY,
    name=FRESHNESS_CHECK,
    blocking=False,
    description=(
        "Warning only: the published segments file is younger than "
        "SEGMENTS_FRESHNESS_MAX_AGE_HOURS (default 36 h), so BI reads a recent refresh."
    ),
)
def published_freshness(
    context: dg.AssetCheckExecutionContext, settings: SegmentsSettings
) -> dg.AssetCheckResult:
    cfg = settings.get()
    path = cfg.published_db
    max_age = cfg.freshness_max_age_hours
    age = published_age_hours(path)
    if age is None:
        message = (
            f"{path} does not exist yet: nothing has been published. Materialise "
            "published/segments_db (run the `refresh` job)."
        )
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=message,
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "error": dg.MetadataValue.text(message),
            },
        )
    published_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    fresh = age <= max_age
    description = (
        f"Published {age:.1f} h ago (limit {max_age} h)."
        if fresh
        else f"{path} was published {age:.1f} h ago, more than SEGMENTS_FRESHNESS_MAX_AGE_HOURS="
        f"{max_age}: the refresh has not published since {published_at:%Y-%m-%d %H:%M} UTC; "
        "look at the latest `refresh` runs for a failed blocking check."
    )
    return dg.AssetCheckResult(
        passed=fresh,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "published_at_utc": dg.MetadataValue.text(published_at.isoformat(timespec="seconds")),
            "age_hours": dg.MetadataValue.float(round(age, 2)),
            "max_age_hours": dg.MetadataValue.int(max_age),
        },
    )
