"""Segment families as the exports and the report see them: which column holds each label.

The column names are the published contract of issue 3 (point 8) on `customer_segments` and
`segment_snapshots`. A family whose column a build does not have yet is skipped, not an
error, so exports and the report keep working while the dbt models grow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentFamily:
    """One way of cutting customers into segments; one label column per customer."""

    name: str  # what `segments export --family` takes
    column: str  # column of customer_segments / segment_snapshots
    title: str  # heading in the report
    is_flag: bool = False  # a boolean column: the one segment is "rows where it is true"

    def label_sql(self, alias: str) -> str:
        """SQL for this family's label on table `alias`; NULL when the customer has none.

        A flag family has one segment, named after the family (e.g. `browser_not_buyer`).
        Only identifiers we define here reach SQL, never user text.
        """
        column = f'{alias}."{self.column}"'
        if self.is_flag:
            return f"case when {column} then '{self.name}' end"
        return f"cast({column} as varchar)"


FAMILIES: tuple[SegmentFamily, ...] = (
    SegmentFamily("rfm", "rfm_segment", "RFM segment"),
    SegmentFamily("lifecycle", "lifecycle_status", "Lifecycle status"),
    SegmentFamily("value_tier", "value_tier", "Value tier"),
    SegmentFamily("near_threshold", "is_near_threshold", "Near the VIP cut-off", is_flag=True),
    SegmentFamily("engagement_band", "engagement_band", "Engagement band"),
    SegmentFamily(
        "browser_not_buyer", "is_browser_not_buyer", "Browsers, not buyers", is_flag=True
    ),
    SegmentFamily("purchase_recency_window", "purchase_recency_window", "Purchase recency"),
    SegmentFamily("price_sensitivity", "price_sensitivity", "Price sensitivity"),
    SegmentFamily("preferred_channel", "preferred_channel", "Preferred channel"),
    SegmentFamily("preferred_category", "preferred_category", "Preferred category"),
)

# Analyst-defined segments live in their own table (one row per as-of date, segment, member),
# not in a column, so they are a family of their own.
DYNAMIC = "dynamic"
FAMILY_NAMES: tuple[str, ...] = (*(f.name for f in FAMILIES), DYNAMIC)


def family(name: str) -> SegmentFamily:
    """The column family called `name` (not `dynamic`); KeyError names the choices."""
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown segment family {name!r}; choose one of {', '.join(FAMILY_NAMES)}")


def slug(label: str) -> str:
    """A file- and shell-friendly form of a segment label: "Can't Lose Them" → cant_lose_them.

    Used to match what a user typed (`--segment at_risk` finds "At Risk") and to name export
    files; apostrophes vanish rather than splitting words.
    """
    text = label.strip().lower().replace("'", "").replace("\u2019", "")
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_") or "segment"
