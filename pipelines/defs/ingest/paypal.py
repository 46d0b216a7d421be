"""PayPal "Activity download" CSV → raw.paypal_activity (one row per balance-affecting event).

Refunds and chargebacks are their own negative rows pointing at the payment through
`Reference Txn ID`; they stay separate here (netting is dbt's job) but must point at a payment
that exists, in raw or in the same load, else they are `orphan_refund`. `Date` is DD/MM/YYYY
in the account's `TimeZone` (PST, CET, Europe/Berlin, +01:00 ...), converted to UTC.
"""

from __future__ import annotations

from . import rules as r
from .spec import Check, CsvFormat, LandedFile, OrphanRule, ReadPlan, RunContext, SourceSpec

REQUIRED = (
    "Date",
    "Time",
    "TimeZone",
    "Type",
    "Status",
    "Currency",
    "Gross",
    "From Email Address",
    "Transaction ID",
    "Reference Txn ID",
)
OPTIONAL = ("Name", "Fee", "Net", "Item Title", "Quantity", "Country", "Contact Phone Number")

COLUMNS = (
    ("transaction_id", "VARCHAR"),
    ("reference_transaction_id", "VARCHAR"),
    ("occurred_at", "TIMESTAMP"),
    ("name", "VARCHAR"),
    ("type", "VARCHAR"),
    ("status", "VARCHAR"),
    ("currency", "VARCHAR"),
    ("gross", "DECIMAL(18,2)"),
    ("fee", "DECIMAL(18,2)"),
    ("net", "DECIMAL(18,2)"),
    ("from_email", "VARCHAR"),
    ("item_title", "VARCHAR"),
    ("quantity", "INTEGER"),
    ("country", "VARCHAR"),
    ("contact_phone", "VARCHAR"),
)

MAX_QUANTITY = 1_000_000  # as expectations/raw_paypal_activity.json bounds it

# Types that give money back and must reference the payment they reverse.
IS_REFUND = "regexp_matches(lower(type), 'refund|chargeback')"


def occurred_at_utc() -> str:
    """`Date` (DD/MM/YYYY) + `Time` in `TimeZone` → naive UTC."""
    local = (
        f"try_strptime(trim({r.src('Date')}) || ' ' || trim({r.src('Time')}), "
        "['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M'])"
    )
    return r.local_to_utc(local, r.src("TimeZone"))


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    s = r.src
    fields = {
        "transaction_id": r.clean(s("Transaction ID")),
        "reference_transaction_id": r.clean(s("Reference Txn ID")),
        "occurred_at": occurred_at_utc(),
        "name": r.clean(s("Name")),
        "type": r.clean(s("Type")),
        "status": r.clean(s("Status")),
        "currency": r.upper_code(s("Currency")),
        "gross": r.decimal(s("Gross")),
        "fee": r.decimal(s("Fee")),
        "net": r.decimal(s("Net")),
        "from_email": r.clean(s("From Email Address")),
        "item_title": r.clean(s("Item Title")),
        "quantity": r.integer(s("Quantity")),
        "country": r.clean(s("Country")),
        "contact_phone": r.clean(s("Contact Phone Number")),
    }
    when = (
        f"'Date=' || {r.quoted(s('Date'))} || ' Time=' || {r.quoted(s('Time'))} || "
        f"' TimeZone=' || {r.quoted(s('TimeZone'))}"
    )
    checks = (
        r.required("Transaction ID"),
        r.required("Date"),
        r.required("Time"),
        r.required("TimeZone"),
        Check(
            "invalid_timestamp",
            "occurred_at IS NULL",
            f"{when} || ' is not DD/MM/YYYY HH:MM:SS in a known time zone'",
        ),
        r.required("Type"),
        r.required("Gross"),
        r.required("Currency"),
        r.parses("invalid_amount", "Gross", "gross", "a number"),
        r.parses("invalid_amount", "Fee", "fee", "a number"),
        r.parses("invalid_amount", "Net", "net", "a number"),
        r.parses("invalid_value", "Quantity", "quantity", "a whole number"),
        r.known_currency("Currency", "currency"),
        # Row rules that used to be only aggregate GX expectations (min/max of fee, net,
        # quantity), which blocked the publish without naming the row.
        r.amount_in_range("Gross", "gross"),
        r.amount_in_range("Fee", "fee"),
        r.amount_in_range("Net", "net"),
        r.count_in_range("Quantity", "quantity", 0, MAX_QUANTITY),
        r.not_before_start("Date", "CAST(occurred_at AS DATE)"),
        r.not_in_future("Date", "CAST(occurred_at AS DATE)"),
    )
    return ReadPlan(
        format=CsvFormat(columns=REQUIRED + OPTIONAL, required=REQUIRED),
        fields=tuple(fields.items()),
        date_field="occurred_at",
        checks=checks,
    )


SPEC = SourceSpec(
    name="paypal",
    table="paypal_activity",
    description=(
        "PayPal activity, one row per balance-affecting event (payments, and refunds and "
        "chargebacks as separate negative rows referencing the payment). Origin: PayPal "
        "'Activity download' CSVs landed in `landing/paypal/`; Date/Time/TimeZone converted "
        "to UTC. Partitioned by `occurred_at` (UTC date). Rejected lines, including refunds "
        "that point at no payment, go to quarantine.paypal."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".csv",),
    key="transaction_id",
    key_label="Transaction ID",
    orphan=OrphanRule(
        is_refund=IS_REFUND,
        reference="reference_transaction_id",
        target="transaction_id",
        label="Reference Txn ID",
    ),
)
