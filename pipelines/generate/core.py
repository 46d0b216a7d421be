"""`generate()`: simulate the sample world and write every source's files into the landing zone."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipelines.generate import spec, writer
from pipelines.generate.planted import resolve
from pipelines.generate.sources import crm, events, fx, paypal, pos, shopify, stripe, support
from pipelines.generate.world import build_world, mean_purchases_per_customer

# Every file the generator owns, by glob under the landing dir: removed before a new run so a
# re-run (say, with another --split) never leaves yesterday's files beside today's.
OWNED_FILES = (
    "shopify/orders_export_*.csv",
    "stripe/charges_*.jsonl",
    "paypal/activity_*.csv",
    "events/events_*.jsonl",
    "support/tickets_*.csv",
    "crm/contacts.csv",
    "fx/rates.csv",
    "generic/pos/mapping.yml",
    "generic/pos/sales_*.csv",
)


@dataclass
class GenerateSummary:
    """What one `generate()` call wrote. Paths are relative to `landing_dir`."""

    landing_dir: Path
    start_date: date
    end_date: date
    seed: int
    customers: int
    split: str
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # data rows per source (bad ones included)
    bad_rows: dict[str, int] = field(default_factory=dict)  # deliberately broken rows per source
    transactions: int = 0  # purchases across shopify/stripe/paypal/pos (declined attempts excluded)
    transactions_by_source: dict[str, int] = field(default_factory=dict)
    buyers: int = 0  # people with at least one purchase in the window
    planted: dict[str, dict] = field(default_factory=dict)  # PLANTED resolved for this run
    elapsed_seconds: float = 0.0

    @property
    def rows_total(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        lines = [
            f"Sample data in {self.landing_dir} ({self.start_date} .. {self.end_date}, "
            f"seed {self.seed}, split by {self.split}): {len(self.files)} files, "
            f"{self.rows_total:,} rows "
            f"in {self.elapsed_seconds:.1f} s",
            f"  {self.transactions:,} transactions by {self.buyers:,} buyers "
            f"({', '.join(f'{k} {v:,}' for k, v in self.transactions_by_source.items())})",
        ]
        lines += [
            f"  {source:<12} {rows:>12,} rows  {self.bad_rows.get(source, 0):>7,} broken on purpose"
            for source, rows in self.rows.items()
        ]
        return "\n".join(lines)


def transactions_for_target(n_transactions: int, days: int = 730) -> int:
    """How many customers to ask `generate()` for to get about `n_transactions` purchases."""
    if n_transactions < 1:
        raise ValueError(f"n_transactions={n_transactions}: ask for at least one transaction")
    return max(1, math.ceil(n_transactions / mean_purchases_per_customer(days)))


def _check(
    customers: int, days: int, split: str, reporting_currency: str, bad_row_rate: float
) -> None:
    if customers < 1:
        raise ValueError(
            f"customers={customers}: generate at least 1 customer (e.g. --customers 2000)"
        )
    if days < 30:
        raise ValueError(
            f"days={days}: the sample needs at least 30 days of history (e.g. --days 730)"
        )
    if split not in writer.SPLITS:
        raise ValueError(f"split={split!r}: use one of {', '.join(writer.SPLITS)}")
    if reporting_currency not in spec.CURRENCIES:
        raise ValueError(
            f"reporting_currency={reporting_currency!r} (SEGMENTS_REPORTING_CURRENCY): the sample "
            f"only has rates for {', '.join(spec.CURRENCIES)}; pick one of those"
        )
    if not 0.0 <= bad_row_rate < 0.5:
        raise ValueError(
            f"bad_row_rate={bad_row_rate}: use a share between 0 (a clean set) and 0.5"
        )


def _remove_owned_files(landing_dir: Path) -> None:
    for pattern in OWNED_FILES:
        for path in landing_dir.glob(pattern):
            path.unlink()


def generate(
    landing_dir: Path,
    customers: int = 2000,
    days: int = 730,
    seed: int = 42,
    end_date: date | None = None,
    split: str = "month",
    reporting_currency: str = "USD",
    bad_row_rate: float = 0.001,
    target_transactions: int | None = None,
) -> GenerateSummary:
    """Write a sample of every source into `landing_dir`, in each source's native format.

    Covers [end_date - days + 1, end_date]; end_date defaults to yesterday (UTC). Same
    arguments, same bytes; files this generator wrote before are replaced (`OWNED_FILES`).

    - customers: buyers to simulate (~10 purchases each over 730 days); on top come ~2% guest
      buyers, ~25% CRM-only prospects, anonymous visitors and the planted customers (`PLANTED`).
    - target_transactions: when given, overrides `customers` with the number that yields
      about that many purchases (`transactions_for_target`).
    - split: one file per source per UTC "month" or "day" of the rows in it.
    - reporting_currency: the currency the FX file quotes rates in (`rate_to_<CUR>`).
    - bad_row_rate: share of rows broken on purpose (non-numeric amounts, impossible dates,
      truncated JSON lines) for the quarantine to catch; 0 gives a clean set.
    """
    started = time.perf_counter()
    if target_transactions is not None:
        customers = transactions_for_target(target_transactions, days)
    reporting_currency = reporting_currency.strip().upper()
    _check(customers, days, split, reporting_currency, bad_row_rate)
    end_date = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    start_date = end_date - timedelta(days=days - 1)
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    _remove_owned_files(landing_dir)

    world = build_world(seed, customers, start_date, end_date)
    results = {
        "shopify": shopify.write(world, landing_dir, split, bad_row_rate),
        "stripe": stripe.write(world, landing_dir, split, bad_row_rate),
        "paypal": paypal.write(world, landing_dir, split, bad_row_rate),
        "generic/pos": pos.write(world, landing_dir, split, bad_row_rate),
        "events": events.write(world, landing_dir, split, bad_row_rate),
        "support": support.write(world, landing_dir, split, bad_row_rate),
        "crm": crm.write(world, landing_dir, bad_row_rate),
        "fx": fx.write(world, landing_dir, reporting_currency, bad_row_rate),
    }
    by_source = world.purchases.group_by("channel").len().sort("channel")
    return GenerateSummary(
        landing_dir=landing_dir,
        start_date=start_date,
        end_date=end_date,
        seed=seed,
        customers=customers,
        split=split,
        files=[f for result in results.values() for f in result.files],
        rows={source: result.rows for source, result in results.items()},
        bad_rows={source: result.bad_rows for source, result in results.items()},
        transactions=world.purchases.height,
        transactions_by_source=dict(by_source.iter_rows()),
        buyers=world.purchases["person_id"].n_unique(),
        planted=resolve(world.purchases, world.people),
        elapsed_seconds=time.perf_counter() - started,
    )
