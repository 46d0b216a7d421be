"""Daily exchange rates CSV: one line per currency per business day, in one file.

File: `fx/rates.csv` with columns `date, currency, rate_to_<REPORTING>` (units of the
reporting currency for one unit of `currency`, 8 decimals). Weekends are missing, as in a
central bank's feed, so a Saturday purchase needs Friday's rate. The file starts 10 days
before the window so the first day always has a rate to fall back on. The reporting currency
itself is listed at exactly 1.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import spec, writer
from pipelines.generate.text import rng_for
from pipelines.generate.world import EPOCH, World

LEAD_DAYS = 10
DAILY_VOLATILITY = 0.004  # ~6% a year, a major pair's ballpark


def _business_days(world: World) -> np.ndarray:
    first = world.start_date - timedelta(days=LEAD_DAYS)
    days = np.arange((first - EPOCH).days, (world.end_date - EPOCH).days + 1)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return days[weekday < 5]


def _rows(world: World, reporting_currency: str, bad_row_rate: float) -> pl.DataFrame:
    """A log random walk per currency against USD, re-based on the reporting currency."""
    rng = rng_for(world.seed, "fx")
    days = _business_days(world)
    steps = rng.normal(0.0, DAILY_VOLATILITY, (len(days), len(spec.CURRENCIES)))
    steps[:, spec.CURRENCIES.index("USD")] = 0.0
    usd_per_unit = np.exp(
        np.log([spec.USD_PER_UNIT[c] for c in spec.CURRENCIES]) + np.cumsum(steps, axis=0)
    )
    to_reporting = usd_per_unit / usd_per_unit[:, [spec.CURRENCIES.index(reporting_currency)]]
    rates = pl.DataFrame(
        {
            "day": np.repeat(days, len(spec.CURRENCIES)),
            "currency": np.tile(np.array(spec.CURRENCIES), len(days)),
            "rate_e8": np.round(to_reporting.ravel() * 1e8).astype(np.int64),
        }
    )
    kinds = (writer.BAD_AMOUNT, writer.BAD_DATE)
    return rates.with_columns(
        ts=pl.col("day") * 86_400,
        bad=writer.defects(rng, rates.height, bad_row_rate, kinds),
    )


def _render(reporting_currency: str):
    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        rate = pl.concat_str(
            [
                (pl.col("rate_e8") // 10**8).cast(pl.String),
                (pl.col("rate_e8") % 10**8).cast(pl.String).str.zfill(8),
            ],
            separator=".",
        )
        day = pl.from_epoch(pl.col("day"), time_unit="d").dt.strftime("%Y-%m-%d")
        return rows.select(
            date=writer.broken(day, writer.BAD_DATE, writer.BAD_DATES),
            currency=pl.col("currency"),
            **{
                f"rate_to_{reporting_currency}": writer.broken(
                    rate, writer.BAD_AMOUNT, ("n/a", "", "1,08", "#N/A")
                )
            },
        )

    return render


def write(
    world: World, landing_dir: Path, reporting_currency: str, bad_row_rate: float
) -> writer.Written:
    return writer.write_single(
        _rows(world, reporting_currency, bad_row_rate),
        landing_dir=landing_dir,
        relative_path="fx/rates.csv",
        render=_render(reporting_currency),
        sink=writer.write_csv,
    )
