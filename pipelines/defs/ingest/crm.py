"""CRM contacts CSV (HubSpot-like) → raw.crm_contacts (one row per contact line).

Reference data: a new or changed file loads in full and its rows carry the load
date as `_partition_date`. Duplicates and mixed-case emails are kept as the CRM sent them
(staging keeps the latest row per normalised email). A contact without email or phone is
not an error in a CRM, so it is kept too: staging decides what it can match. Contacts may
predate SEGMENTS_START_DATE, so only `future_date` applies to `created_at`.
"""

from __future__ import annotations

from . import rules as r
from .spec import Check, CsvFormat, LandedFile, ReadPlan, RunContext, SourceSpec

REQUIRED = ("email", "first_name", "last_name", "phone", "created_at")
OPTIONAL = ("birth_date", "gender", "city", "country", "lifecycle_stage", "marketing_consent")

# ISO first; the others are unambiguous day-first spellings CRMs let users type.
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y")
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")

COLUMNS = (
    ("email", "VARCHAR"),
    ("first_name", "VARCHAR"),
    ("last_name", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("birth_date", "DATE"),
    ("gender", "VARCHAR"),
    ("city", "VARCHAR"),
    ("country", "VARCHAR"),
    ("lifecycle_stage", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("marketing_consent", "BOOLEAN"),
)


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    s = r.src
    created = (
        f"coalesce({r.iso_timestamp_utc(s('created_at'))}, "
        f"{r.strptime_utc(s('created_at'), TIMESTAMP_FORMATS)})"
    )
    fields = {
        "email": r.clean(s("email")),
        "first_name": r.clean(s("first_name")),
        "last_name": r.clean(s("last_name")),
        "phone": r.clean(s("phone")),
        "birth_date": f"CAST({r.strptime_utc(s('birth_date'), DATE_FORMATS)} AS DATE)",
        "gender": r.clean(s("gender")),
        "city": r.clean(s("city")),
        "country": r.clean(s("country")),
        "lifecycle_stage": r.clean(s("lifecycle_stage")),
        "created_at": created,
        "marketing_consent": r.boolean(s("marketing_consent")),
    }
    checks = (
        r.parses("invalid_timestamp", "created_at", "created_at", "an ISO 8601 timestamp"),
        r.parses("invalid_value", "birth_date", "birth_date", "a date like 1990-04-17"),
        Check(
            "invalid_value",
            "(birth_date > _run_date OR birth_date < DATE '1900-01-01')",
            f"'birth_date=' || {r.quoted(s('birth_date'))} || ' is not a plausible birth date'",
        ),
        r.parses(
            "invalid_value", "marketing_consent", "marketing_consent", "true/false/yes/no/1/0"
        ),
        r.not_in_future("created_at", "CAST(created_at AS DATE)"),
    )
    return ReadPlan(
        format=CsvFormat(columns=REQUIRED + OPTIONAL, required=REQUIRED),
        fields=tuple(fields.items()),
        date_field=None,
        checks=checks,
    )


SPEC = SourceSpec(
    name="crm",
    table="crm_contacts",
    description=(
        "CRM contacts, one row per contact line as the CRM exported it (duplicates and "
        "spelling kept; staging keeps the latest per email). Origin: HubSpot-like contacts "
        "CSVs landed in `landing/crm/`. Reference data: each new or changed file loads in "
        "full; `_partition_date` is the load date. Rejected lines go to quarantine.crm."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".csv",),
)
