"""The fixed vocabulary of the sample world: countries, currencies, names, catalog, knobs.

Everything here is small and constant; the generator draws from it with numpy. Keeping it in
one module means a reader can see the whole sample world (and tune it) without reading the
simulation code.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- currencies ----------------------------------------------------------------------------

# Units of USD for one unit of the currency, roughly the 2024 level; the FX file random-walks
# around these, and catalog prices are converted from USD with them.
USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "PLN": 0.25,
    "JPY": 0.0067,
}
CURRENCIES: tuple[str, ...] = tuple(USD_PER_UNIT)
# Digits after the decimal point. JPY is a zero-decimal currency: Stripe's `amount` is yen.
CURRENCY_DECIMALS: dict[str, int] = {c: (0 if c == "JPY" else 2) for c in CURRENCIES}
# Flat shipping and the free-shipping threshold, in minor units of the currency.
SHIPPING_MINOR: dict[str, int] = {"USD": 599, "EUR": 499, "GBP": 449, "PLN": 1499, "JPY": 800}
FREE_SHIPPING_FROM_MINOR: dict[str, int] = {
    "USD": 7500,
    "EUR": 6000,
    "GBP": 5000,
    "PLN": 25000,
    "JPY": 10000,
}

# --- countries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2, as Shopify, Stripe and PayPal write it
    name: str  # as people type it into a CRM
    currency: str
    calling_code: str
    national_digits: int  # length of the national significant number
    trunk_zero: bool  # national format starts with 0 (DE, GB, FR, JP), not in PL or US
    tax_rate: float  # sales tax (US, added on top) or VAT (included in prices elsewhere)
    tax_included: bool  # VAT countries: Shopify shows `Taxes` but `Total` does not add it
    share: float  # share of web customers from this country
    cities: tuple[str, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    #       code  name              currency dial digits trunk0 tax   included share
    Country("US", "United States",  "USD",   "1",  10,   False, 0.07, False,   0.34,
            ("New York", "Chicago", "Austin", "Seattle", "Denver", "Boston"),
            ("Emily", "Olivia", "Sarah", "Jessica", "Ashley", "Megan"),
            ("Michael", "James", "David", "Chris", "Daniel", "Ryan"),
            ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "O'Brien", "Moore")),
    Country("PL", "Poland",         "PLN",   "48", 9,    False, 0.23, True,    0.16,
            ("Warszawa", "Kraków", "Gdańsk", "Wrocław", "Poznań", "Łódź"),
            ("Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Zofia", "Joanna"),
            ("Piotr", "Krzysztof", "Tomasz", "Paweł", "Łukasz", "Jakub"),
            ("Nowak", "Kowalczyk", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński")),
    Country("DE", "Germany",        "EUR",   "49", 10,   True,  0.19, True,    0.16,
            ("Berlin", "München", "Hamburg", "Köln", "Leipzig", "Frankfurt am Main"),
            ("Julia", "Lena", "Sophie", "Hannah", "Lea", "Marie"),
            ("Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Jürgen"),
            ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann")),
    Country("FR", "France",         "EUR",   "33", 9,    True,  0.20, True,    0.06,
            ("Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille"),
            ("Camille", "Léa", "Chloé", "Manon", "Inès", "Élodie"),
            ("Lucas", "Hugo", "Théo", "Louis", "Nathan", "Gabriel"),
            ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Lefèvre", "Moreau")),
    Country("GB", "United Kingdom", "GBP",   "44", 10,   True,  0.20, True,    0.18,
            ("London", "Manchester", "Bristol", "Leeds", "Glasgow", "Cardiff"),
            ("Amelia", "Isla", "Charlotte", "Emily", "Grace", "Sophie"),
            ("Oliver", "George", "Harry", "Jack", "Thomas", "William"),
            ("Taylor", "Jones", "Williams", "Evans", "Roberts", "Walker", "Wright")),
    Country("JP", "Japan",          "JPY",   "81", 10,   True,  0.10, True,    0.10,
            ("Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Fukuoka"),
            ("Yui", "Aoi", "Hina", "Sakura", "Yuna", "Mei"),
            ("Haruto", "Sota", "Yuto", "Ren", "Kaito", "Riku"),
            ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto")),
)
# fmt: on
COUNTRY_CODES: tuple[str, ...] = tuple(c.code for c in COUNTRIES)
COUNTRY_BY_CODE: dict[str, Country] = {c.code: c for c in COUNTRIES}
POS_COUNTRY = "PL"  # the shop's only bricks-and-mortar store is in Poland

EMAIL_DOMAINS: dict[str, tuple[str, ...]] = {
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
    "PL": ("gmail.com", "wp.pl", "onet.pl", "o2.pl", "interia.pl"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net"),
    "GB": ("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    "JP": ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com"),
}

# --- channels --------------------------------------------------------------------------------

CHANNELS: tuple[str, ...] = ("shopify", "stripe", "paypal", "pos")
HOME_CHANNEL_SHARE: dict[str, float] = {
    "shopify": 0.42,
    "stripe": 0.24,
    "paypal": 0.20,
    "pos": 0.14,
}
TWO_CHANNEL_SHARE = 0.15  # buyers who also buy through a second system (different spelling)
SECOND_CHANNEL_PURCHASE_SHARE = 0.35  # of such a buyer's purchases after the first
GUEST_SHARE = 0.02  # extra one-off buyers with no email and no phone (Shopify/Stripe guests)
PROSPECT_SHARE = 0.25  # CRM-only contacts who never buy, relative to `customers`
ANONYMOUS_VISITOR_SHARE = 0.5  # anonymous web visitors, relative to `customers`

# --- catalog --------------------------------------------------------------------------------

# (category, sku prefix, vendor, [(product name, USD price), ...] sorted by price)
# fmt: off
CATALOG: tuple[tuple[str, str, str, tuple[tuple[str, float], ...]], ...] = (
    ("apparel", "APP", "Northwind Apparel", (
        ("Cotton T-Shirt", 19), ("Linen Shirt", 45), ("Merino Sweater", 89),
        ("Denim Jacket", 120), ("Wool Coat", 260))),
    ("footwear", "FTW", "Stride & Co", (
        ("Canvas Sneakers", 39), ("Running Shoes", 110), ("Leather Boots", 180),
        ("Hiking Boots", 210))),
    ("accessories", "ACC", "Northwind Apparel", (
        ("Cotton Socks 3-pack", 12), ("Knit Beanie", 24), ("Leather Belt", 49),
        ("Canvas Backpack", 79), ("Leather Weekender", 240))),
    ("beauty", "BEA", "Glow Lab", (
        ("Lip Balm", 6), ("Hand Cream", 14), ("Vitamin C Serum", 38), ("Perfume 50 ml", 95))),
    ("home", "HOM", "Casa Nova", (
        ("Scented Candle", 18), ("Ceramic Mug Set", 32), ("Linen Bedding Set", 140),
        ("Wool Throw", 99), ("Espresso Machine", 420))),
    ("electronics", "ELE", "Voltix", (
        ("USB-C Cable", 11), ("Wireless Earbuds", 79), ("Smart Watch", 199),
        ("Noise-Cancelling Headphones", 299), ("E-Reader", 149))),
    ("books", "BOO", "Paper Trail", (
        ("Paperback Novel", 12), ("Cookbook", 29), ("Photo Book", 55))),
    ("sports", "SPO", "Peak Gear", (
        ("Yoga Mat", 29), ("Water Bottle", 19), ("Resistance Bands", 24), ("Tennis Racket", 129),
        ("Road Bike Helmet", 89))),
)
# fmt: on
CATEGORIES: tuple[str, ...] = tuple(c[0] for c in CATALOG)

# (code, share of the lines subtotal); FREESHIP waives shipping instead.
DISCOUNT_CODES: tuple[tuple[str, float], ...] = (
    ("WELCOME10", 0.10),
    ("SPRING15", 0.15),
    ("SUMMER20", 0.20),
    ("VIP25", 0.25),  # fmt: skip
    ("BLACKFRIDAY30", 0.30),
    ("NEWSLETTER5", 0.05),
)


# --- behaviour (buy-till-you-die) -------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """Parameters of the purchase process, per day.

    Each buyer has a Poisson purchase rate lambda ~ Gamma(rate_shape, rate_scale) and, after
    each purchase, drops out with probability p ~ Beta(dropout_a, dropout_b) (BG/NBD).
    Tuned so that over 730 days there are ~10 purchases per requested customer (~85% of them
    buy inside the window, ~11.6 purchases each), ~23% of those buy exactly once, and a long
    tail buys weekly or more; with sign-ups spread over time every RFM cell gets members.
    """

    rate_shape: float = 0.55
    rate_scale: float = 0.155
    rate_cap: float = 0.35  # at most one purchase every three days on average
    dropout_a: float = 0.9
    dropout_b: float = 9.0
    preexisting_share: float = 0.35  # buyers acquired in the year before the window starts
    difficult_share: float = 0.03  # buyers with many complaints, refunds and disputes


BEHAVIOUR = Behaviour()

# Per-order shares (of the matching channel's orders).
FAILED_CHARGE_SHARE = 0.05  # Stripe purchases preceded by a declined attempt
ABANDONED_FAILURE_SHARE = 0.01  # declined Stripe attempts never retried
VOIDED_SHARE = 0.01  # Shopify orders whose authorisation was voided
DISPUTE_SHARE = 0.004  # Stripe/PayPal payments later disputed (difficult buyers: x12)
EVENTS_PER_TRANSACTION = 3.0  # engagement volume relative to purchases
