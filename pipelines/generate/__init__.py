"""Sample-data generator: every source's files, in its native format, mess included.

    from pipelines.generate import generate, PLANTED
    summary = generate(Path("data/landing"), customers=2000, days=730, seed=42)

writes into `landing_dir/<source>/` what Shopify, Stripe, PayPal, a till (through the generic
source), a CRM, web analytics + an email tool, a help desk and an FX feed would export about
one simulated shop (docs: /docs/raw_tables.md and the module docstrings under `sources/`).

How it is built, in order:

- `population`: people (buyers, guests, CRM-only prospects) with country, currency, names,
  canonical email and phone, home channel (~15% also a second one) and behaviour parameters;
- `purchases`: buy-till-you-die purchase times (gamma purchase rates, beta dropout) and what
  each purchase is worth (catalog lines, discounts, shipping, tax, refunds, disputes);
- `planted`: a handful of known customers (`PLANTED`) for end-to-end assertions;
- `sources/*`: each system's view of the same world, written per month (or day) by `writer`.

Everything is vectorised (numpy + polars) and seeded per component: the same arguments give
byte-identical files, and ~1M customers / ~10M transactions take minutes.
"""

from pipelines.generate.core import GenerateSummary, generate, transactions_for_target
from pipelines.generate.planted import PLANTED

__all__ = ["PLANTED", "GenerateSummary", "generate", "transactions_for_target"]
