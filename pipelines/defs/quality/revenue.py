"""`revenue_reconciles_to_raw` (marts/fct_transactions, blocking): revenue survives dbt.

Per source, day and currency (every day, every run), the revenue the raw tables hold equals
the gross revenue of fct_transactions in the original currency, before any currency conversion
(definitions in `RAW_REVENUE_SQL`, documented in expectations/README.md). A join in dbt that
drops or fans out transactions changes fct's sums and fails this check before the publish.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation of an
# asset check at definition time and does not resolve string annotations.

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import dagster as dg
import duckdb

from pipelines.defs.quality.results import failed_result, md_table
from pipelines.lib.currencies import minor_unit_divisor_sql
from pipelines.lib.duck import connect, quote_ident, table_exists
from pipelines.resources import SegmentsSettings

REVENUE_CHECK = "revenue_reconciles_to_raw"
FCT_KEY = dg.AssetKey(["marts", "fct_transactions"])

# The fct_transactions columns this check reads (dbt_project/models/marts/core/fct_transactions).
FCT_SOURCE = "source"  # shopify | stripe | paypal | generic
FCT_DATE = "transaction_date"  # UTC day of the transaction
FCT_CURRENCY = "original_currency"
FCT_GROSS = "gross_amount_original"  # before refunds and before conversion

# "Revenue in raw", per source: the gross amount of every purchase that moved money, in its
# own currency, on the UTC day of the purchase (= the raw row's `_partition_date`), before
# refunds (fct_transactions nets those in other columns) and before conversion. Written from
# the raw tables independently of dbt, so a join that drops or fans out rows shows up here.
RAW_REVENUE_SQL: dict[str, str] = {
    # An order's money fields are repeated on each of its lines: count the first line's
    # `total` (what the customer paid, shipping and taxes included). Pending, authorized,
    # voided and expired orders took no money.
    "shopify": """
        SELECT 'shopify' AS source, _partition_date AS day, currency, total AS gross
        FROM raw.shopify_orders
        WHERE line_number_in_order = 1
          AND lower(trim(financial_status))
              IN ('paid', 'partially_paid', 'partially_refunded', 'refunded')
    """,
    # Succeeded and paid charges only; amounts are minor units (JPY has none, KWD three).
    "stripe": f"""
        SELECT 'stripe' AS source, _partition_date AS day, currency,
               amount_minor::DECIMAL(38, 4) / {minor_unit_divisor_sql("currency")} AS gross
        FROM raw.stripe_charges
        WHERE status = 'succeeded' AND is_paid
    """,
    # Payments are the positive lines of a payment type; refunds ("Payment Refund") and
    # chargebacks are their own negative lines. Only settled statuses moved money (a payment
    # later refunded or reversed shows Refunded / Reversed and was still paid).
    "paypal": """
        SELECT 'paypal' AS source, _partition_date AS day, currency, gross
        FROM raw.paypal_activity
        WHERE lower(type) LIKE '%payment%' AND gross > 0
          AND lower(trim(status))
              IN ('completed', 'cleared', 'refunded', 'partially refunded', 'reversed')
    """,
    # The positive lines of a receipt (source folder + transaction id); negative lines are
    # refunds. A receipt counts on the day of its first line.
    "generic": """
        SELECT 'generic' AS source, receipts.day, lines.currency, lines.amount AS gross
        FROM raw.generic_transactions AS lines
        INNER JOIN (
            SELECT source_name, transaction_id, min(_partition_date) AS day
            FROM raw.generic_transactions GROUP BY ALL
        ) AS receipts USING (source_name, transaction_id)
        WHERE lines.amount > 0
    """,
}
RAW_REVENUE_TABLES = {
    "shopify": "shopify_orders",
    "stripe": "stripe_charges",
    "paypal": "paypal_activity",
    "generic": "generic_transactions",
}
# Sums of DECIMAL(18,2) agree exactly; the tolerance absorbs a minor-unit division that dbt
# may do in floating point.
REVENUE_TOLERANCE = Decimal("0.005")


@dataclass(frozen=True)
class RevenueMismatch:
    """One (source, day, currency) whose revenue differs between raw and fct_transactions."""

    source: str
    day: date
    currency: str
    raw_gross: Decimal | None
    fct_gross: Decimal | None

    @property
    def difference(self) -> Decimal:
        return (self.fct_gross or Decimal(0)) - (self.raw_gross or Decimal(0))


def revenue_mismatches(
    con: duckdb.DuckDBPyConnection, fct_relation: str = "marts.fct_transactions"
) -> tuple[int, list[RevenueMismatch]]:
    """(groups compared, groups that differ) over every day, per source/day/currency.

    Every day, not the run's: two group-bys (raw and fct_transactions) of a few columns, about
    a second at ten million transactions, and a day changed by a later file is re-checked.

    Sources whose raw table does not exist are left out on both sides (a deployment without
    PayPal has no raw.paypal_activity and no PayPal rows in fct_transactions).
    """
    sources = [s for s, t in RAW_REVENUE_TABLES.items() if table_exists(con, "raw", t)]
    if not sources:
        return 0, []
    raw_union = " UNION ALL ".join(f"({RAW_REVENUE_SQL[s]})" for s in sources)
    in_sources = ", ".join(f"'{s}'" for s in sources)
    rows = con.execute(
        f"""
        WITH raw_revenue AS (
            SELECT source, day, currency, sum(gross) AS gross FROM ({raw_union})
            GROUP BY ALL
        ),
        fct_revenue AS (
            SELECT source, day, currency, sum(gross) AS gross
            FROM (
                SELECT {quote_ident(FCT_SOURCE)} AS source, {quote_ident(FCT_DATE)}::DATE AS day,
                       {quote_ident(FCT_CURRENCY)} AS currency, {quote_ident(FCT_GROSS)} AS gross
                FROM {fct_relation}
                WHERE {quote_ident(FCT_SOURCE)} IN ({in_sources})
            )
            GROUP BY ALL
        ),
        compared AS (
            SELECT coalesce(r.source, f.source) AS source, coalesce(r.day, f.day) AS day,
                   coalesce(r.currency, f.currency) AS currency,
                   r.gross::DECIMAL(38, 4) AS raw_gross, f.gross::DECIMAL(38, 4) AS fct_gross
            FROM raw_revenue AS r
            FULL JOIN fct_revenue AS f USING (source, day, currency)
        )
        SELECT count(*) OVER () AS groups, source, day, currency, raw_gross, fct_gross,
               abs(coalesce(fct_gross, 0) - coalesce(raw_gross, 0)) > ? AS differs
        FROM compared
        ORDER BY NOT differs, source, day, currency
        """,
        [REVENUE_TOLERANCE],
    ).fetchall()
    groups = rows[0][0] if rows else 0
    return groups, [RevenueMismatch(*r[1:6]) for r in rows if r[6]]


@dg.asset_check(
    asset=FCT_KEY,
    name=REVENUE_CHECK,
    blocking=True,
    description=(
        "Blocking: per source, day and currency (all days), the revenue in the raw tables "
        "equals fct_transactions.gross_amount_original (before conversion). Raw revenue: "
        "Shopify first-line `total` of paid / partially paid / (partially) refunded orders; "
        "Stripe `amount_minor` of succeeded, paid charges in major units; PayPal `gross` of "
        "settled payment lines; generic positive `amount` lines, on their receipt's first day."
    ),
)
def revenue_reconciles_to_raw(
    context: dg.AssetCheckExecutionContext, settings: SegmentsSettings
) -> dg.AssetCheckResult:
    cfg = settings.get()
    with connect(cfg.build_db, read_only=True) as con:
        if not table_exists(con, "marts", "fct_transactions"):
            return failed_result(
                FCT_KEY,
                REVENUE_CHECK,
                (
                    f"marts.fct_transactions does not exist yet in {cfg.build_db}: materialise "
                    "marts/fct_transactions (the dbt models) first."
                ),
            )
        columns = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name = 'fct_transactions'"
            ).fetchall()
        }
        missing = [c for c in (FCT_SOURCE, FCT_DATE, FCT_CURRENCY, FCT_GROSS) if c not in columns]
        if missing:
            return failed_result(
                FCT_KEY,
                REVENUE_CHECK,
                (
                    f"marts.fct_transactions has no column(s) {', '.join(missing)}, which this "
                    "check reads (FCT_* in pipelines/defs/quality/reconciliation.py); align "
                    "the two."
                ),
            )
        groups, mismatches = revenue_mismatches(con)
    table_md = md_table(
        ["source", "day", "currency", "raw gross", "fct_transactions gross", "difference"],
        [(m.source, m.day, m.currency, m.raw_gross, m.fct_gross, m.difference) for m in mismatches],
    )
    description = (
        f"Revenue reconciles for all {groups} source/day/currency group(s)."
        if not mismatches
        else f"{len(mismatches)} of {groups} source/day/currency group(s) differ, e.g. "
        + "; ".join(
            f"{m.source} {m.day} {m.currency}: raw {m.raw_gross} vs fct {m.fct_gross}"
            for m in mismatches[:3]
        )
    )
    return dg.AssetCheckResult(
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "scope": dg.MetadataValue.text("every source, day and currency"),
            "groups_compared": dg.MetadataValue.int(groups),
            "groups_mismatched": dg.MetadataValue.int(len(mismatches)),
            "mismatches": dg.MetadataValue.md(table_md if mismatches else description),
        },
    )
