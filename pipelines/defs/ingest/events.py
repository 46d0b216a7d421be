"""Engagement events (JSON Lines) → raw.events (one row per event).

Web-analytics and email-tool events: session_start, page_view, email_open, email_click,
add_to_cart. Anonymous events (anonymous_id, no email) are kept: identity stitching may tie
them to a customer later. The highest-volume source, so it carries no duplicate rule (events
have no id) and every rule is a column expression.
"""

from __future__ import annotations

from . import rules as r
from .spec import JsonLinesFormat, LandedFile, ReadPlan, RunContext, SourceSpec

EVENT_TYPES = ("session_start", "page_view", "email_open", "email_click", "add_to_cart")

JSON_PATHS = {
    "event": "$.event",
    "timestamp": "$.timestamp",
    "email": "$.email",
    "anonymous_id": "$.anonymous_id",
}

COLUMNS = (
    ("event", "VARCHAR"),
    ("occurred_at", "TIMESTAMP"),
    ("email", "VARCHAR"),
    ("anonymous_id", "VARCHAR"),
    ("properties", "JSON"),
)


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    s = r.src
    fields = {
        "event": f"nullif(lower(trim({s('event')})), '')",
        # ISO 8601 as the tools export it; unix seconds accepted too.
        "occurred_at": (
            f"coalesce({r.iso_timestamp_utc(s('timestamp'))}, {r.unix_seconds_utc(s('timestamp'))})"
        ),
        "email": r.clean(s("email")),
        "anonymous_id": r.clean(s("anonymous_id")),
        "properties": "_json -> '$.properties'",
    }
    checks = (
        r.required("event"),
        r.required("timestamp"),
        r.required("email", "anonymous_id", label="email and anonymous_id"),
        r.parses("invalid_timestamp", "timestamp", "occurred_at", "an ISO 8601 timestamp"),
        r.one_of("event", "event", EVENT_TYPES),
        r.not_before_start("timestamp", "CAST(occurred_at AS DATE)"),
        r.not_in_future("timestamp", "CAST(occurred_at AS DATE)"),
    )
    return ReadPlan(
        format=JsonLinesFormat(columns=JSON_PATHS),
        fields=tuple(fields.items()),
        date_field="occurred_at",
        checks=checks,
    )


SPEC = SourceSpec(
    name="events",
    table="events",
    description=(
        "Engagement events, one row per event (session_start, page_view, email_open, "
        "email_click, add_to_cart) with its `properties` as JSON. Origin: JSON Lines exports "
        "of the web-analytics and email tools landed in `landing/events/`. Partitioned by "
        "`occurred_at` (UTC date). Rejected lines go to quarantine.events."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".jsonl", ".ndjson", ".json"),
)
