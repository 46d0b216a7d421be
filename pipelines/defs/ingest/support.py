"""Support tickets CSV (Zendesk-like) → raw.support_tickets (one row per ticket).

A ticket id is unique: a second line with the same id (in the file or already loaded from
another file) is `duplicate_id`. The export's status is a snapshot at export time.
"""

from __future__ import annotations

from . import rules as r
from .spec import CsvFormat, LandedFile, ReadPlan, RunContext, SourceSpec

TICKET_TYPES = ("question", "complaint", "return")
COLUMNS_IN_FILE = ("ticket_id", "requester_email", "created_at", "type", "status")
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")

COLUMNS = (
    ("ticket_id", "VARCHAR"),
    ("requester_email", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("type", "VARCHAR"),
    ("status", "VARCHAR"),
)


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    s = r.src
    created = (
        f"coalesce({r.iso_timestamp_utc(s('created_at'))}, "
        f"{r.strptime_utc(s('created_at'), TIMESTAMP_FORMATS)})"
    )
    fields = {
        "ticket_id": r.clean(s("ticket_id")),
        "requester_email": r.clean(s("requester_email")),
        "created_at": created,
        "type": f"nullif(lower(trim({s('type')})), '')",
        "status": f"nullif(lower(trim({s('status')})), '')",
    }
    checks = (
        r.required("ticket_id"),
        r.required("created_at"),
        r.parses("invalid_timestamp", "created_at", "created_at", "an ISO 8601 timestamp"),
        r.one_of("type", "type", TICKET_TYPES),
        r.not_before_start("created_at", "CAST(created_at AS DATE)"),
        r.not_in_future("created_at", "CAST(created_at AS DATE)"),
    )
    return ReadPlan(
        format=CsvFormat(columns=COLUMNS_IN_FILE, required=COLUMNS_IN_FILE),
        fields=tuple(fields.items()),
        date_field="created_at",
        checks=checks,
    )


SPEC = SourceSpec(
    name="support",
    table="support_tickets",
    description=(
        "Support tickets, one row per ticket (question, complaint, return) with its status at "
        "export time. Origin: Zendesk-like tickets CSVs landed in `landing/support/`. "
        "Partitioned by `created_at` (UTC date). Rejected lines go to quarantine.support."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".csv",),
    key="ticket_id",
    key_label="ticket_id",
)
