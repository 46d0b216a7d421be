"""The people of the sample world: buyers, guests and CRM-only prospects.

Grain: one row per person (`person_id`). A person is the ground truth the warehouse has to
rediscover from messy source rows: every spelling of an email, every phone format, every
loyalty card and Stripe customer id written in the sources points back to exactly one row here.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generate import spec
from pipelines.generate.text import (
    HEX,
    N_EMAIL_SPELLINGS,
    N_PHONE_FORMATS,
    random_tokens,
    strings_where,
)

# How often each email spelling is a person's first (home-system) spelling: mostly lower case.
_HOME_SPELLING_WEIGHTS = np.array([0.62, 0.14, 0.04, 0.10, 0.05, 0.05])
_ASCII_FOLD = {
    "ą": "a",
    "ć": "c",
    "ę": "e",
    "ł": "l",
    "ń": "n",
    "ó": "o",
    "ś": "s",
    "ź": "z",
    "ż": "z",
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "é": "e",
    "è": "e",
    "ê": "e",
    "ç": "c",
    "à": "a",
    "î": "i",
    "ï": "i",
    "ô": "o",
    "û": "u",
    "'": "",
    " ": "",
}


def _pick(
    rng: np.random.Generator, options: list[tuple[str, ...]], group: np.ndarray
) -> np.ndarray:
    """For each row, a uniform choice from `options[group[row]]` (one tuple per group)."""
    flat = np.array([o for opts in options for o in opts], dtype=object)
    sizes = np.array([len(opts) for opts in options])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    offset = np.floor(rng.random(len(group)) * sizes[group]).astype(np.int64)
    return flat[starts[group] + offset]


def _choice(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """n draws of an index into `weights` (normalised)."""
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _national_numbers(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """Random national significant numbers with `digits` digits, never starting with 0 or 1."""
    scale = 10 ** (digits - 1)
    first = rng.integers(2, 10, len(digits))
    rest = np.floor(rng.random(len(digits)) * scale).astype(np.int64)
    return first * scale + rest


def _other_spelling(rng: np.random.Generator, home: np.ndarray, k: int) -> np.ndarray:
    """A spelling/format code different from `home` (the second system writes it differently)."""
    return (home + 1 + rng.integers(0, k - 1, len(home))) % k


def _second_channel(
    rng: np.random.Generator, home: np.ndarray, country_is_pos: np.ndarray
) -> np.ndarray:
    """A channel other than `home`; the POS only for people who live where the store is."""
    n_channels = len(spec.CHANNELS)
    second = (home + 1 + rng.integers(0, n_channels - 1, len(home))) % n_channels
    pos = spec.CHANNELS.index("pos")
    shopify, stripe = spec.CHANNELS.index("shopify"), spec.CHANNELS.index("stripe")
    fallback = np.where(home == shopify, stripe, shopify)
    return np.where((second == pos) & ~country_is_pos, fallback, second)


def build_persons(rng: np.random.Generator, customers: int, days: int) -> pl.DataFrame:
    """`customers` buyers, ~2% guests and ~25% prospects, with their behaviour parameters.

    `signup_day` is relative to the first day of the window (negative: acquired before it).
    """
    b = spec.BEHAVIOUR
    n_guests = round(customers * spec.GUEST_SHARE)
    n_prospects = round(customers * spec.PROSPECT_SHARE)
    n = customers + n_guests + n_prospects
    kind = np.repeat(np.array(["buyer", "guest", "prospect"]), [customers, n_guests, n_prospects])
    is_buyer, is_guest = kind == "buyer", kind == "guest"

    # Channels first, then the country: the store is in Poland, web buyers come from everywhere.
    home = _choice(rng, n, np.array([spec.HOME_CHANNEL_SHARE[c] for c in spec.CHANNELS]))
    shopify, stripe = spec.CHANNELS.index("shopify"), spec.CHANNELS.index("stripe")
    home = np.where(is_guest, np.where(rng.random(n) < 0.7, shopify, stripe), home)
    country = _choice(rng, n, np.array([c.share for c in spec.COUNTRIES]))
    pos = spec.CHANNELS.index("pos")
    country = np.where(home == pos, spec.COUNTRY_CODES.index(spec.POS_COUNTRY), country)
    country_is_pos = country == spec.COUNTRY_CODES.index(spec.POS_COUNTRY)
    has_second = is_buyer & (rng.random(n) < spec.TWO_CHANNEL_SHARE)
    second = np.where(has_second, _second_channel(rng, home, country_is_pos), -1)

    female = rng.random(n) < 0.52
    first = np.where(
        female,
        _pick(rng, [c.female for c in spec.COUNTRIES], country),
        _pick(rng, [c.male for c in spec.COUNTRIES], country),
    )
    last = _pick(rng, [c.last for c in spec.COUNTRIES], country)
    city = _pick(rng, [c.cities for c in spec.COUNTRIES], country)
    domain = _pick(rng, [spec.EMAIL_DOMAINS[c] for c in spec.COUNTRY_CODES], country)
    digits = np.array([c.national_digits for c in spec.COUNTRIES])[country]

    signup = np.where(
        rng.random(n) < b.preexisting_share,
        -365 * rng.random(n),
        days * rng.random(n) ** 0.8,  # a growing business: more sign-ups lately
    )
    signup = np.where(is_guest, days * rng.random(n), signup)
    home_spelling = _choice(rng, n, _HOME_SPELLING_WEIGHTS)
    home_phone = rng.integers(0, N_PHONE_FORMATS, n)
    difficult = is_buyer & (rng.random(n) < b.difficult_share)
    anon = random_tokens(rng, n, 32, HEX)

    codes = np.array(spec.COUNTRY_CODES)
    people = pl.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "kind": kind,
            "home_channel": strings_where(kind != "prospect", np.array(spec.CHANNELS)[home]),
            "second_channel": strings_where(
                second >= 0, np.array(spec.CHANNELS)[np.maximum(second, 0)]
            ),
            "country": codes[country],
            "gender": np.where(female, "female", "male"),
            "first_name": first.astype(str),
            "last_name": last.astype(str),
            "city": city.astype(str),
            "domain": domain.astype(str),
            "national_number": _national_numbers(rng, digits),
            "email_pattern": rng.integers(0, 3, n),
            "age_days": rng.integers(18 * 365, 78 * 365, n),
            "signup_day": signup,
            "consent": rng.random(n) < 0.6,
            "difficult": difficult,
            "purchase_rate": np.minimum(rng.gamma(b.rate_shape, b.rate_scale, n), b.rate_cap),
            "dropout": rng.beta(b.dropout_a, b.dropout_b, n),
            "price_level": rng.beta(2.0, 3.0, n),
            "preferred_category": rng.integers(0, len(spec.CATEGORIES), n),
            "discount_propensity": rng.beta(0.6, 2.4, n),
            "refund_propensity": np.where(difficult, 0.35, rng.beta(0.6, 12.0, n)),
            "email_spelling_home": home_spelling,
            "email_spelling_second": _other_spelling(rng, home_spelling, N_EMAIL_SPELLINGS),
            "phone_format_home": home_phone,
            "phone_format_second": _other_spelling(rng, home_phone, N_PHONE_FORMATS),
            "stripe_customer": "cus_" + random_tokens(rng, n, 14),
            "anonymous_id": anon,
            "planted": pl.repeat(None, n, dtype=pl.String, eager=True),
        }
    )
    return with_identity(people)


def with_identity(people: pl.DataFrame) -> pl.DataFrame:
    """Derived identity columns: canonical email, phone parts, loyalty card, PL surname forms."""
    countries = pl.DataFrame(
        {
            "country": spec.COUNTRY_CODES,
            "calling_code": [c.calling_code for c in spec.COUNTRIES],
            "trunk_zero": [c.trunk_zero for c in spec.COUNTRIES],
            "currency": [c.currency for c in spec.COUNTRIES],
            "country_name": [c.name for c in spec.COUNTRIES],
        }
    )
    fold = list(_ASCII_FOLD)
    first_ascii = (
        pl.col("first_name").str.to_lowercase().str.replace_many(fold, list(_ASCII_FOLD.values()))
    )
    last_ascii = (
        pl.col("last_name").str.to_lowercase().str.replace_many(fold, list(_ASCII_FOLD.values()))
    )
    # Unique by construction: the person id is part of every generated local part.
    local = (
        pl.when(pl.col("email_pattern") == 0)
        .then(pl.concat_str([first_ascii, pl.lit("."), last_ascii]))
        .when(pl.col("email_pattern") == 1)
        .then(pl.concat_str([first_ascii.str.slice(0, 1), last_ascii]))
        .otherwise(pl.concat_str([first_ascii, pl.lit("_"), last_ascii.str.slice(0, 1)]))
    )
    pos_customer = (pl.col("home_channel") == "pos") | (pl.col("second_channel") == "pos")
    polish_female = (pl.col("country") == "PL") & (pl.col("gender") == "female")
    if "email" not in people.columns:
        people = people.with_columns(email=pl.lit(None, dtype=pl.String))
    return (
        people.join(countries, on="country", how="left", maintain_order="left")
        .with_columns(
            last_name=pl.when(polish_female)
            .then(pl.col("last_name").str.replace(r"ski$", "ska"))
            .otherwise(pl.col("last_name"))
        )
        .with_columns(
            # Planted people come with a fixed email; everyone else gets a generated one.
            email=pl.coalesce(
                pl.col("email"),
                pl.concat_str(
                    [local, pl.col("person_id").cast(pl.String), pl.lit("@"), pl.col("domain")]
                ),
            ),
            national=pl.col("national_number").cast(pl.String),
            loyalty_card=pl.when(pos_customer).then(
                pl.lit("LC") + (pl.col("person_id") + 10_000_000).cast(pl.String).str.zfill(8)
            ),
        )
        .with_columns(
            full_name=pl.concat_str([pl.col("first_name"), pl.col("last_name")], separator=" ")
        )
    )
