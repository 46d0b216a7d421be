"""The product catalog: one row per product, with a shelf price in every currency.

Prices are converted from USD once and rounded the way shops round them (19.99, 79.99 zł,
2,900 yen), so the same product has the same price in every file of the sample.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import polars as pl

from pipelines.generate import spec


def _shelf_price_minor(usd: float, currency: str) -> int:
    """A shop-style price in minor units: x.99 for decimal currencies, whole hundreds of yen."""
    local = usd / spec.USD_PER_UNIT[currency]
    if spec.CURRENCY_DECIMALS[currency] == 0:
        return max(100, int(round(local / 100)) * 100)
    return max(1, int(round(local))) * 100 - 1


@cache
def catalog() -> pl.DataFrame:
    """product_id, category, category_id, sku, name, vendor, plus price_minor_<CUR> columns."""
    rows = []
    for category_id, (category, prefix, vendor, products) in enumerate(spec.CATALOG):
        for name, usd in sorted(products, key=lambda product: product[1]):
            slug = re.sub(r"[^A-Z0-9]", "", name.upper())[:8]
            rows.append(
                {
                    "product_id": len(rows),
                    "category": category,
                    "category_id": category_id,
                    "sku": f"{prefix}-{slug}-{len(rows) + 1:03d}",
                    "name": name,
                    "vendor": vendor,
                    **{f"price_minor_{c}": _shelf_price_minor(usd, c) for c in spec.CURRENCIES},
                }
            )
    return pl.DataFrame(rows)


@cache
def category_ranges() -> tuple[np.ndarray, np.ndarray]:
    """First product_id and number of products of each category (products are price-sorted)."""
    ids = catalog()["category_id"].to_numpy()
    sizes = np.bincount(ids, minlength=len(spec.CATEGORIES))
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes


@cache
def price_matrix() -> np.ndarray:
    """price_minor[product_id, currency index in spec.CURRENCIES]."""
    return catalog().select([f"price_minor_{c}" for c in spec.CURRENCIES]).to_numpy()
