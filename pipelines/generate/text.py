"""Vectorised text helpers: random ids, money, phones, email spellings, timestamps, JSON.

All functions work on whole columns (numpy arrays or polars expressions); none loops over rows.
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl

BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
UPPER36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def rng_for(seed: int, component: str) -> np.random.Generator:
    """An independent random stream per component, so that e.g. the FX file does not change
    when the number of customers does. crc32 is stable across runs (unlike `hash`)."""
    return np.random.default_rng([seed, zlib.crc32(component.encode())])


def random_tokens(rng: np.random.Generator, n: int, length: int, alphabet=BASE62) -> pl.Series:
    """n random strings of `length` characters from `alphabet` (ids like Stripe's `ch_...`)."""
    picks = rng.integers(0, len(alphabet), size=(n, length), dtype=np.uint8)
    fixed = np.ascontiguousarray(alphabet[picks]).view(f"S{length}").ravel()
    return pl.Series(fixed).cast(pl.String)


def strings_where(valid: np.ndarray, values: np.ndarray) -> pl.Series:
    """A String series: `values` where `valid`, null elsewhere (numpy has no nullable strings)."""
    return pl.select(pl.when(pl.Series(valid)).then(pl.Series(values.astype(str)))).to_series()


def cycle(options: tuple[str, ...], key: pl.Expr) -> pl.Expr:
    """options[key % len(options)]: a deterministic, evenly spread pick per row."""
    return pl.lit(pl.Series(options)).gather(key % len(options))


# --- money ------------------------------------------------------------------------------------


def _thousands(major: pl.Expr) -> pl.Expr:
    """A non-negative integer with comma thousands separators: 1234567 -> '1,234,567'."""
    groups = [(major // 10 ** (3 * k)) % 1000 for k in range(3)]
    padded = [g.cast(pl.String).str.zfill(3) for g in groups]
    billions = (major // 10**9).cast(pl.String)
    return (
        pl.when(major >= 10**9)
        .then(pl.concat_str([billions, *reversed(padded)], separator=","))
        .when(major >= 10**6)
        .then(pl.concat_str([groups[2].cast(pl.String), padded[1], padded[0]], separator=","))
        .when(major >= 10**3)
        .then(pl.concat_str([groups[1].cast(pl.String), padded[0]], separator=","))
        .otherwise(major.cast(pl.String))
    )


def money(minor: pl.Expr, currency: pl.Expr, *, thousands: bool = False) -> pl.Expr:
    """Minor units -> the major-unit text a CSV export shows ('1234.50', JPY '1234').

    Money stays integer until this point, so no float rounding ever reaches a file.
    """
    magnitude = minor.abs()
    zero_decimal = currency == "JPY"
    major = pl.when(zero_decimal).then(magnitude).otherwise(magnitude // 100)
    major_text = _thousands(major) if thousands else major.cast(pl.String)
    cents = (magnitude % 100).cast(pl.String).str.zfill(2)
    body = (
        pl.when(zero_decimal)
        .then(major_text)
        .otherwise(pl.concat_str([major_text, cents], separator="."))
    )
    return pl.when(minor.is_null()).then(None).when(minor < 0).then("-" + body).otherwise(body)


# --- identities -------------------------------------------------------------------------------

N_PHONE_FORMATS = 6


def phone(calling_code: pl.Expr, national: pl.Expr, trunk_zero: pl.Expr, style: pl.Expr) -> pl.Expr:
    """One phone number in one of six ways people write it.

    0 '+48 601 234 567'   1 '0048601234567'   2 '601-234-567'   3 '+48601234567'
    4 '(601) 234 567'     5 '601234567'       (2, 4, 5 are national: no country code, a
    leading 0 where the country dials one, so normalising needs the row's country).
    """
    head, mid, tail = national.str.slice(0, 3), national.str.slice(3, 3), national.str.slice(6)
    trunk = pl.when(trunk_zero).then(pl.lit("0")).otherwise(pl.lit(""))
    return (
        pl.when(style == 0)
        .then(pl.concat_str([pl.lit("+") + calling_code, head, mid, tail], separator=" "))
        .when(style == 1)
        .then(pl.concat_str([pl.lit("00"), calling_code, national]))
        .when(style == 2)
        .then(pl.concat_str([trunk + head, mid, tail], separator="-"))
        .when(style == 3)
        .then(pl.concat_str([pl.lit("+"), calling_code, national]))
        .when(style == 4)
        .then(pl.concat_str([pl.lit("("), trunk, head, pl.lit(") "), mid, pl.lit(" "), tail]))
        .otherwise(pl.concat_str([trunk, national]))
    )


N_EMAIL_SPELLINGS = 6


def email_spelling(email: pl.Expr, style: pl.Expr) -> pl.Expr:
    """The canonical lower-case email as one of six spellings a person or system produces.

    0 'anna.k@mail.com'   1 'Anna.K@Mail.com'   2 'ANNA.K@MAIL.COM'   3 'anna.k@mail.com '
    4 'Anna.K@Mail.com '  5 ' anna.k@mail.com'. All normalise back with lower(trim(...)).
    """
    local = email.str.split("@").list.first()
    domain = email.str.split("@").list.last()
    titled = pl.concat_str(
        [local.str.to_titlecase(), domain.str.slice(0, 1).str.to_uppercase() + domain.str.slice(1)],
        separator="@",
    )
    return (
        pl.when(style == 0)
        .then(email)
        .when(style == 1)
        .then(titled)
        .when(style == 2)
        .then(email.str.to_uppercase())
        .when(style == 3)
        .then(email + " ")
        .when(style == 4)
        .then(titled + " ")
        .otherwise(" " + email)
    )


# --- time -----------------------------------------------------------------------------------


def local_time(epoch_seconds: pl.Expr, tz: str, fmt: str) -> pl.Expr:
    """UTC epoch seconds -> text in a local time zone (DST-aware), e.g. '%Y-%m-%d %H:%M:%S %z'."""
    utc = pl.from_epoch(epoch_seconds, time_unit="s").dt.replace_time_zone("UTC")
    return utc.dt.convert_time_zone(tz).dt.strftime(fmt)


def utc_date(epoch_seconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(epoch_seconds, time_unit="s").dt.date()


# --- JSON (the generator's own strings never contain quotes, backslashes or control chars) ---


def jstr(value: pl.Expr) -> pl.Expr:
    return (
        pl.when(value.is_null())
        .then(pl.lit("null"))
        .otherwise(pl.concat_str([pl.lit('"'), value, pl.lit('"')]))
    )


def jnum(value: pl.Expr) -> pl.Expr:
    return pl.when(value.is_null()).then(pl.lit("null")).otherwise(value.cast(pl.String))


def jbool(value: pl.Expr) -> pl.Expr:
    return pl.when(value).then(pl.lit("true")).otherwise(pl.lit("false"))


def jobject(fields: dict[str, pl.Expr]) -> pl.Expr:
    """A JSON object from already-encoded values (jstr/jnum/jbool/nested jobject)."""
    parts: list[pl.Expr] = []
    for i, (key, value) in enumerate(fields.items()):
        parts += [pl.lit(("{" if i == 0 else ",") + f'"{key}":'), value]
    return pl.concat_str([*parts, pl.lit("}")])
