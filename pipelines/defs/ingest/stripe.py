"""Stripe Charge objects (JSON Lines) → raw.stripe_charges (one row per charge).

Amounts stay in minor units as Stripe sends them (`amount_minor`: 1999 = 19.99 USD, but
1999 JPY since JPY has no minor unit); staging divides by the currency's minor units. Failed
charges are kept (status = failed): they are real attempts, and staging decides what counts.
"""

from __future__ import annotations

from . import rules as r
from .spec import Check, JsonLinesFormat, LandedFile, ReadPlan, RunContext, SourceSpec

STATUSES = ("succeeded", "failed", "pending")

# label used in messages → JSON path in the charge object
JSON_PATHS = {
    "id": "$.id",
    "amount": "$.amount",
    "amount_refunded": "$.amount_refunded",
    "currency": "$.currency",
    "created": "$.created",
    "customer": "$.customer",
    "billing_details.email": "$.billing_details.email",
    "billing_details.name": "$.billing_details.name",
    "billing_details.phone": "$.billing_details.phone",
    "billing_details.address.city": "$.billing_details.address.city",
    "billing_details.address.country": "$.billing_details.address.country",
    "receipt_email": "$.receipt_email",
    "status": "$.status",
    "paid": "$.paid",
    "refunded": "$.refunded",
    "disputed": "$.disputed",
    "description": "$.description",
}

COLUMNS = (
    ("charge_id", "VARCHAR"),
    ("amount_minor", "BIGINT"),
    ("amount_refunded_minor", "BIGINT"),
    ("currency", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("customer_id", "VARCHAR"),
    ("billing_email", "VARCHAR"),
    ("billing_name", "VARCHAR"),
    ("billing_phone", "VARCHAR"),
    ("billing_city", "VARCHAR"),
    ("billing_country", "VARCHAR"),
    ("receipt_email", "VARCHAR"),
    ("status", "VARCHAR"),
    ("is_paid", "BOOLEAN"),
    ("is_refunded", "BOOLEAN"),
    ("is_disputed", "BOOLEAN"),
    ("description", "VARCHAR"),
    ("metadata", "JSON"),
)


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    s = r.src
    fields = {
        "charge_id": r.clean(s("id")),
        "amount_minor": r.integer(s("amount")),
        "amount_refunded_minor": r.integer(s("amount_refunded")),
        "currency": r.upper_code(s("currency")),
        "created_at": r.unix_seconds_utc(s("created")),
        "customer_id": r.clean(s("customer")),
        "billing_email": r.clean(s("billing_details.email")),
        "billing_name": r.clean(s("billing_details.name")),
        "billing_phone": r.clean(s("billing_details.phone")),
        "billing_city": r.clean(s("billing_details.address.city")),
        "billing_country": r.clean(s("billing_details.address.country")),
        "receipt_email": r.clean(s("receipt_email")),
        "status": f"nullif(lower(trim({s('status')})), '')",
        "is_paid": r.boolean(s("paid")),
        "is_refunded": r.boolean(s("refunded")),
        "is_disputed": r.boolean(s("disputed")),
        "description": r.clean(s("description")),
        "metadata": "_json -> '$.metadata'",
    }
    checks = (
        r.required("id"),
        r.required("created"),
        r.parses("invalid_timestamp", "created", "created_at", "whole unix seconds"),
        r.required("amount"),
        r.required("currency"),
        r.parses("invalid_amount", "amount", "amount_minor", "a whole number of minor units"),
        r.parses(
            "invalid_amount",
            "amount_refunded",
            "amount_refunded_minor",
            "a whole number of minor units",
        ),
        Check(
            "invalid_amount",
            "(amount_minor < 0 OR amount_refunded_minor < 0 "
            "OR amount_refunded_minor > amount_minor)",
            f"'amount=' || {r.quoted(s('amount'))} || ', amount_refunded=' || "
            f"{r.quoted(s('amount_refunded'))} || ': amounts must be >= 0 and refunds <= amount'",
        ),
        r.parses("invalid_value", "paid", "is_paid", "true or false"),
        r.parses("invalid_value", "refunded", "is_refunded", "true or false"),
        r.parses("invalid_value", "disputed", "is_disputed", "true or false"),
        r.one_of("status", "status", STATUSES),
        r.known_currency("currency", "currency"),
        r.amount_in_range("amount", r.major_units("amount_minor", "currency")),
        r.not_before_start("created", "CAST(created_at AS DATE)"),
        r.not_in_future("created", "CAST(created_at AS DATE)"),
    )
    return ReadPlan(
        format=JsonLinesFormat(columns=JSON_PATHS),
        fields=tuple(fields.items()),
        date_field="created_at",
        checks=checks,
    )


SPEC = SourceSpec(
    name="stripe",
    table="stripe_charges",
    description=(
        "Stripe charges, one row per Charge object, amounts in minor units as Stripe sends "
        "them, `created` converted to UTC. Origin: JSON Lines exports of the Charges API "
        "landed in `landing/stripe/`. Partitioned by `created_at` (UTC date). Rejected lines "
        "(including truncated JSON) go to quarantine.stripe."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".jsonl", ".ndjson", ".json"),
    key="charge_id",
    key_label="id",
)
