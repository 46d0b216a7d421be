"""Shopify "Orders export" CSV → raw.shopify_orders (one row per line-item line).

Shopify writes an order's fields (Email, totals, Created at, ...) only on the order's first
line; the lines after it carry the line item alone. The reader forward-fills the order fields
to every line of the same order (consecutive lines with the same `Name`) and numbers the
lines, so each raw row is self-contained: order totals repeat on every line, and a model that
sums them must take one line per `order_name`.
"""

from __future__ import annotations

from . import rules as r
from .spec import Check, CsvFormat, LandedFile, ReadPlan, RunContext, SourceSpec, UniqueKey

FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "expired",
)
MAX_LINEITEM_QUANTITY = 100_000  # as expectations/raw_shopify_orders.json bounds it
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z")

REQUIRED = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Currency",
    "Subtotal",
    "Total",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Id",  # stg_shopify__orders.order_id is unique and not null: the order's identity
)
OPTIONAL = (
    "Shipping",
    "Taxes",
    "Discount Code",
    "Discount Amount",
    "Lineitem sku",
    "Billing Name",
    "Billing City",
    "Billing Country",
    "Billing Phone",
    "Refunded Amount",
    "Tags",
    "Source",
)
# Written only on an order's first line: forward-filled to the order's other lines.
ORDER_FIELDS = (
    "Email",
    "Financial Status",
    "Paid at",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Created at",
    "Billing Name",
    "Billing City",
    "Billing Country",
    "Billing Phone",
    "Refunded Amount",
    "Id",
    "Tags",
    "Source",
)
AMOUNTS = {
    "subtotal": "Subtotal",
    "shipping": "Shipping",
    "taxes": "Taxes",
    "total": "Total",
    "discount_amount": "Discount Amount",
    "refunded_amount": "Refunded Amount",
    "lineitem_price": "Lineitem price",
}

COLUMNS = (
    ("order_name", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("line_number_in_order", "INTEGER"),
    ("email", "VARCHAR"),
    ("financial_status", "VARCHAR"),
    ("paid_at", "TIMESTAMP"),
    ("created_at", "TIMESTAMP"),
    ("currency", "VARCHAR"),
    ("subtotal", "DECIMAL(18,2)"),
    ("shipping", "DECIMAL(18,2)"),
    ("taxes", "DECIMAL(18,2)"),
    ("total", "DECIMAL(18,2)"),
    ("discount_amount", "DECIMAL(18,2)"),
    ("refunded_amount", "DECIMAL(18,2)"),
    ("discount_code", "VARCHAR"),
    ("lineitem_quantity", "INTEGER"),
    ("lineitem_name", "VARCHAR"),
    ("lineitem_sku", "VARCHAR"),
    ("lineitem_price", "DECIMAL(18,2)"),
    ("billing_name", "VARCHAR"),
    ("billing_city", "VARCHAR"),
    ("billing_country", "VARCHAR"),
    ("billing_phone", "VARCHAR"),
    ("tags", "VARCHAR"),
    ("source_name", "VARCHAR"),
)


def _timestamp(label: str) -> str:
    text = r.src(label)
    return f"coalesce({r.strptime_utc(text, TIMESTAMP_FORMATS)}, {r.iso_timestamp_utc(text)})"


def forward_fill(text: str) -> str:
    """SQL: the text relation with order fields forward-filled within each order.

    `text` holds the records of one or more files (`_file_rank` tells them apart; stage.py
    judges small files together), so every window and join is per file. An order is a run of
    consecutive well-formed lines with the same Name; `_block` is the record number of its
    first line. Windows run over (file, line, Name) only and the order fields come from the
    order's first line by a hash join: sorting 1M wide rows costs several times more.
    `_first_line` is where the Name first appeared in its file, so a Name that comes back
    after other orders (`_repeated_order`) is a duplicate.
    """
    name = r.src("Name")
    first = ", ".join(f"t.{r.src(c)} AS {r.src('first:' + c)}" for c in ORDER_FIELDS)
    fills = ", ".join(
        f"coalesce(t.{r.src(c)}, f.{r.src('first:' + c)}) AS {r.src(c)}" for c in ORDER_FIELDS
    )
    return f"""
        WITH keys AS (
            SELECT _file_rank, _source_line, {name} AS _name,
                   row_number() OVER by_line AS _record,
                   {name} IS DISTINCT FROM lag({name}) OVER by_line AS _starts_order
            FROM {text} WHERE _malformed IS NULL
            WINDOW by_line AS (PARTITION BY _file_rank ORDER BY _source_line)
        ),
        orders AS (
            SELECT *, max(CASE WHEN _starts_order THEN _record END)
                          OVER (PARTITION BY _file_rank ORDER BY _source_line
                                ROWS UNBOUNDED PRECEDING) AS _block
            FROM keys
        ),
        repeated_names AS (  -- a Name in two separate runs of lines: rare, so keep it small
            SELECT _file_rank, _name, min(_source_line) AS _first_line,
                   min(_block) AS _first_block
            FROM orders GROUP BY ALL HAVING count(DISTINCT _block) > 1
        ),
        continued AS (  -- orders that have more lines than their first (most have one)
            SELECT DISTINCT _file_rank, _block FROM orders WHERE NOT _starts_order
        ),
        firsts AS (
            SELECT o._file_rank, o._block, {first}
            FROM orders AS o
            JOIN continued AS c USING (_file_rank, _block)
            JOIN {text} AS t USING (_file_rank, _source_line)
            WHERE o._starts_order
        )
        SELECT t.* REPLACE ({fills}),
               o._record - o._block + 1 AS _line_in_order,
               n._first_line,
               coalesce(o._block > n._first_block, FALSE) AS _repeated_order
        FROM {text} AS t
        JOIN orders AS o USING (_file_rank, _source_line)
        LEFT JOIN firsts AS f USING (_file_rank, _block)
        LEFT JOIN repeated_names AS n ON n._file_rank = o._file_rank AND n._name = o._name
        UNION ALL BY NAME
        SELECT * FROM {text} WHERE _malformed IS NOT NULL
    """


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    fields = {
        "order_name": r.clean(r.src("Name")),
        "order_id": r.clean(r.src("Id")),
        "line_number_in_order": "_line_in_order",
        "email": r.clean(r.src("Email")),
        "financial_status": f"nullif(lower(trim({r.src('Financial Status')})), '')",
        "paid_at": _timestamp("Paid at"),
        "created_at": _timestamp("Created at"),
        "currency": r.upper_code(r.src("Currency")),
        **{col: r.decimal(r.src(label)) for col, label in AMOUNTS.items()},
        "discount_code": r.clean(r.src("Discount Code")),
        "lineitem_quantity": r.integer(r.src("Lineitem quantity")),
        "lineitem_name": r.clean(r.src("Lineitem name")),
        "lineitem_sku": r.clean(r.src("Lineitem sku")),
        "billing_name": r.clean(r.src("Billing Name")),
        "billing_city": r.clean(r.src("Billing City")),
        "billing_country": r.clean(r.src("Billing Country")),
        "billing_phone": r.clean(r.src("Billing Phone")),
        "tags": r.clean(r.src("Tags")),
        "source_name": r.clean(r.src("Source")),
    }
    ts_example = "a timestamp like 2024-03-05 14:02:11 +0100"
    # A line with none of the order fields even after the fill: a line item whose order's
    # first line is elsewhere in the file (separated by another order) or not in it at all.
    orphan = " AND ".join(f"{r.src(c)} IS NULL" for c in ORDER_FIELDS)
    name = r.quoted(r.src("Name"))
    checks = (
        r.required("Name"),
        Check(
            "orphan_line_item",
            f"({orphan})",
            f"'Name=' || {name} || CASE WHEN _first_line < _source_line"
            " THEN ' is a line item apart from its order, which starts at line ' || _first_line"
            " || '; keep an order''s lines together (re-export the order)'"
            " ELSE ' is a line item whose order line (Created at, Email, Total ...) is not in"
            " this file; re-export the whole order' END",
        ),
        r.required("Id"),  # stg_shopify__orders.order_id is unique and not null
        r.required("Created at"),
        r.parses("invalid_timestamp", "Created at", "created_at", ts_example),
        r.parses("invalid_timestamp", "Paid at", "paid_at", ts_example),
        r.required("Currency"),
        r.required("Total"),
        *(r.parses("invalid_amount", label, col, "a number") for col, label in AMOUNTS.items()),
        r.parses("invalid_value", "Lineitem quantity", "lineitem_quantity", "a whole number"),
        r.one_of("Financial Status", "financial_status", FINANCIAL_STATUSES),
        r.known_currency("Currency", "currency"),
        # Row rules that used to be only aggregate GX expectations (min(total) >= 0, ...),
        # which blocked the publish without naming the row: every amount >= 0 and within
        # ±MAX_ABS_AMOUNT, quantities 0..MAX_LINEITEM_QUANTITY.
        *(r.not_negative(label, col) for col, label in AMOUNTS.items()),
        *(r.amount_in_range(label, col) for col, label in AMOUNTS.items()),
        r.count_in_range("Lineitem quantity", "lineitem_quantity", 0, MAX_LINEITEM_QUANTITY),
        r.not_before_start("Created at", "CAST(created_at AS DATE)"),
        r.not_in_future("Created at", "CAST(created_at AS DATE)"),
        Check(
            "duplicate_id",
            "_repeated_order",
            "'Name=' || "
            + r.quoted(r.src("Name"))
            + " || ' already appeared at line ' || _first_line || ' of this file'",
        ),
    )
    return ReadPlan(
        format=CsvFormat(columns=REQUIRED + OPTIONAL, required=REQUIRED),
        fields=tuple(fields.items()),
        date_field="created_at",
        checks=checks,
        prepare=forward_fill,
    )


SPEC = SourceSpec(
    name="shopify",
    table="shopify_orders",
    description=(
        "Shopify orders, one row per line-item line of an order, typed and forward-filled "
        "(order fields repeat on every line; `line_number_in_order` numbers the lines). "
        "Origin: Shopify 'Orders export' CSVs landed in `landing/shopify/`. Partitioned by "
        "`created_at` (UTC date). Rejected lines go to quarantine.shopify."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".csv",),
    key="order_name",
    key_label="Name",
    # Lines of one order share its Name; a Name repeated later in the file is caught by
    # the `_repeated_order` rule above instead.
    unique_within_file=False,
    # The same order under another Name (a re-export with renamed orders) shares its Id.
    also_unique=(UniqueKey("order_id", "Id", entity="order_name", entity_label="Name"),),
)
