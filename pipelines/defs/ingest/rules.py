"""SQL building blocks for readers: typing text columns and the row rules around them.

Every function returns a SQL expression (a string) that DuckDB evaluates column-at-a-time
over a whole file. Text columns are named `"@<label>"` (see `src`) so they never collide with
the typed columns of the same name (DuckDB identifiers are case-insensitive: `Currency` and
`currency` would). Labels and constants are inlined with `sql_str`, never raw.
"""

from __future__ import annotations

from pipelines.lib.currencies import minor_unit_divisor_sql
from pipelines.lib.duck import quote_ident, sql_str

from .spec import Check

# Amounts beyond this (major units) are data errors, not sales: a price typed in cents into a
# major-unit column, or a phone number pasted into Total.
MAX_ABS_AMOUNT = 10_000_000

# Time zone abbreviations found in PayPal activity downloads and similar exports, as fixed
# UTC offsets in minutes. Abbreviations are ambiguous in general (IST, CST); these are the
# readings those exports use (CST is US Central; IST is left out: India or Ireland). IANA
# names (Europe/Berlin) are resolved by DuckDB's ICU instead.
TZ_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "MET": 60,
    "MEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "HST": -600,
    "AKST": -540,
    "AKDT": -480,
    "PST": -480,
    "PDT": -420,
    "MST": -420,
    "MDT": -360,
    "CST": -360,
    "CDT": -300,
    "EST": -300,
    "EDT": -240,
    "AST": -240,
    "ADT": -180,
    "NST": -210,
    "NDT": -150,
    "BRT": -180,
    "ART": -180,
    "SGT": 480,
    "HKT": 480,
    "AWST": 480,
    "JST": 540,
    "KST": 540,
    "ACST": 570,
    "ACDT": 630,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
}


def src(label: str) -> str:
    """The text column read from file column (or JSON path label) `label`."""
    return quote_ident("@" + label)


def blank(text_sql: str) -> str:
    """True when the text is missing or only whitespace."""
    return f"(nullif(trim({text_sql}), '') IS NULL)"


def clean(text_sql: str) -> str:
    """Text as the source wrote it, with blank turned into NULL (spelling is kept: staging
    normalises, the raw layer shows what the source sent)."""
    return f"(CASE WHEN {blank(text_sql)} THEN NULL ELSE {text_sql} END)"


def decimal(text_sql: str, scale: int = 2) -> str:
    """A decimal from text such as `12.30`, `-1,234.56` or `1234.5`; NULL if unparseable.

    Commas are removed only where they group thousands (`1,234,567.8`), so a decimal comma
    (`12,30`) is rejected instead of silently read as 1230. The plain cast runs first: the
    regex only sees the few values that contain a comma.
    """
    t = f"trim({text_sql})"
    grouped = rf"regexp_full_match({t}, '[-+]?\d{{1,3}}(,\d{{3}})+(\.\d+)?')"
    return (
        f"coalesce(TRY_CAST({t} AS DECIMAL(18,{scale})), "
        f"CASE WHEN contains({t}, ',') AND {grouped} "
        f"THEN TRY_CAST(replace({t}, ',', '') AS DECIMAL(18,{scale})) END)"
    )


def integer(text_sql: str) -> str:
    """A whole number from text; `2.5` or `20.0` is NULL (DuckDB would round `19.99` to 20)."""
    t = f"trim({text_sql})"
    return (
        rf"(CASE WHEN regexp_full_match({t}, '[-+]?\d{{1,18}}') THEN TRY_CAST({t} AS BIGINT) END)"
    )


def boolean(text_sql: str) -> str:
    """true/false/yes/no/y/n/1/0 in any case; anything else NULL."""
    t = f"lower(trim({text_sql}))"
    return (
        f"(CASE WHEN {t} IN ('true', 'yes', 'y', '1', 't') THEN TRUE "
        f"WHEN {t} IN ('false', 'no', 'n', '0', 'f') THEN FALSE END)"
    )


def upper_code(text_sql: str) -> str:
    """An upper-cased, trimmed code (currency, country)."""
    return f"nullif(upper(trim({text_sql})), '')"


def iso_timestamp_utc(text_sql: str) -> str:
    """ISO 8601 text (`2024-03-05T14:02:11Z`, `...+01:00`, or without offset = UTC) as naive
    UTC. Sessions run in UTC (lib.duck.connect), which is what an offset-less value means."""
    return f"timezone('UTC', TRY_CAST(trim({text_sql}) AS TIMESTAMPTZ))"


def strptime_utc(text_sql: str, formats: list[str] | tuple[str, ...]) -> str:
    """Text in one of the strptime `formats` as naive UTC. Formats with `%z` carry their own
    offset (`2024-03-05 14:02:11 +0100` → 13:02:11); formats without it are taken as UTC."""
    with_zone = [f for f in formats if "%z" in f or "%Z" in f]
    naive = [f for f in formats if f not in with_zone]
    parts = []
    if with_zone:
        fmts = ", ".join(sql_str(f) for f in with_zone)
        parts.append(f"timezone('UTC', try_strptime(trim({text_sql}), [{fmts}]))")
    if naive:
        fmts = ", ".join(sql_str(f) for f in naive)
        parts.append(f"try_strptime(trim({text_sql}), [{fmts}])::TIMESTAMP")
    return f"coalesce({', '.join(parts)})"


def unix_seconds_utc(text_sql: str) -> str:
    """Whole unix seconds (`1709647331`) as naive UTC; NULL if not such a number. The bound
    (year ~5138) keeps make_timestamp in range: a bigger value is not a creation time."""
    seconds = integer(text_sql)
    return f"(CASE WHEN abs({seconds}) < 100000000000 THEN make_timestamp({seconds} * 1000000) END)"


def local_to_utc(local_ts_sql: str, zone_sql: str) -> str:
    """A naive local timestamp in time zone `zone_sql` (an abbreviation from
    TZ_ABBREVIATIONS, an offset like `+01:00` / `UTC+1`, or an IANA name) as naive UTC;
    NULL when the zone is unknown."""
    z = f"upper(trim({zone_sql}))"
    abbrevs = " ".join(f"WHEN {sql_str(a)} THEN {m}" for a, m in sorted(TZ_ABBREVIATIONS.items()))
    offset = (
        rf"regexp_extract({z}, '^(?:UTC|GMT)?([+-])(\d{{1,2}}):?(\d{{2}})?$', ['sign', 'h', 'm'])"
    )
    minutes = f"coalesce(TRY_CAST(nullif({offset}.m, '') AS INTEGER), 0)"
    offset_minutes = (
        f"(CASE WHEN {offset}.sign = '' THEN NULL "
        f"ELSE (CASE {offset}.sign WHEN '-' THEN -1 ELSE 1 END) * "
        f"(TRY_CAST({offset}.h AS INTEGER) * 60 + {minutes}) END)"
    )
    fixed = f"coalesce(CASE {z} {abbrevs} END, {offset_minutes})"
    # The CASE keeps timezone() from ever seeing a name ICU does not know (it would raise).
    iana = (
        f"CASE WHEN trim({zone_sql}) IN (SELECT name FROM pg_timezone_names()) "
        f"THEN timezone('UTC', timezone(trim({zone_sql}), {local_ts_sql})) END"
    )
    return (
        f"(CASE WHEN {fixed} IS NOT NULL THEN {local_ts_sql} - to_minutes(({fixed})::BIGINT) "
        f"ELSE {iana} END)"
    )


def quoted(text_sql: str) -> str:
    """A value for a reason_detail: `'12,3x'` (NULL shows as empty)."""
    return f"('''' || coalesce({text_sql}, '') || '''')"


def major_units(amount_minor_sql: str, currency_sql: str) -> str:
    """Minor units (Stripe `amount`) in major units of the currency, for range checks."""
    return f"({amount_minor_sql} / {minor_unit_divisor_sql(currency_sql)})"


# --- row rules ---------------------------------------------------------------------------


def required(*labels: str, label: str | None = None) -> Check:
    """`missing_required` when every one of `labels` is blank (one label: it is blank)."""
    fails = " AND ".join(blank(src(lb)) for lb in labels)
    if len(labels) == 1:
        detail = f"{labels[0]} is empty"
    else:
        names = label or ", ".join(labels[:-1]) + " and " + labels[-1]
        detail = f"{names} are {'both' if len(labels) == 2 else 'all'} empty"
    return Check("missing_required", fails, sql_str(detail))


def parses(reason: str, label: str, typed_sql: str, expected: str) -> Check:
    """`reason` when `label` has text but `typed_sql` could not make a value of it."""
    return Check(
        reason,
        f"(NOT {blank(src(label))} AND {typed_sql} IS NULL)",
        f"{sql_str(label + '=')} || {quoted(src(label))} || {sql_str(' is not ' + expected)}",
    )


def one_of(label: str, typed_sql: str, allowed: tuple[str, ...]) -> Check:
    """`invalid_value` when a present value is not in `allowed`."""
    values = ", ".join(sql_str(v) for v in allowed)
    return Check(
        "invalid_value",
        f"({typed_sql} IS NOT NULL AND {typed_sql} NOT IN ({values}))",
        f"{sql_str(label + '=')} || {quoted(src(label))} || "
        f"{sql_str(' is not one of ' + ', '.join(allowed))}",
    )


def known_currency(label: str, typed_sql: str) -> Check:
    """`unknown_currency` when a present code is not ISO 4217 (temp table `_iso_4217`)."""
    return Check(
        "unknown_currency",
        f"({typed_sql} IS NOT NULL AND {typed_sql} NOT IN (SELECT code FROM _iso_4217))",
        f"{sql_str(label + '=')} || {quoted(src(label))} || ' is not an ISO 4217 currency code'",
    )


def amount_in_range(label: str, major_sql: str) -> Check:
    """`invalid_amount` when the absolute amount in major units exceeds MAX_ABS_AMOUNT."""
    return Check(
        "invalid_amount",
        f"(abs({major_sql}) > {MAX_ABS_AMOUNT})",
        f"{sql_str(label + '=')} || {quoted(src(label))} || "
        f"{sql_str(f' is beyond ±{MAX_ABS_AMOUNT:,} in major units')}",
    )


def not_negative(label: str, typed_sql: str) -> Check:
    """`invalid_amount` for a negative amount in a column that is never negative (a refund
    is its own column or row, not a negative total)."""
    return Check(
        "invalid_amount",
        f"({typed_sql} < 0)",
        f"{sql_str(label + '=')} || {quoted(src(label))} || ' is negative; it must be >= 0'",
    )


def count_in_range(label: str, typed_sql: str, low: int, high: int) -> Check:
    """`invalid_value` for a count (a quantity) outside [low, high]."""
    return Check(
        "invalid_value",
        f"({typed_sql} NOT BETWEEN {low} AND {high})",
        f"{sql_str(label + '=')} || {quoted(src(label))} || "
        f"{sql_str(f' is outside {low:,}..{high:,}')}",
    )


def not_in_future(label: str, date_sql: str, run_date_sql: str = "_run_date") -> Check:
    """`future_date` when the date is after the run's (UTC) wall-clock date."""
    return Check(
        "future_date",
        f"({date_sql} > {run_date_sql})",
        f"{sql_str(label + '=')} || {quoted(src(label))} || ' is after the run date ' || "
        f"strftime({run_date_sql}, '%Y-%m-%d')",
    )


def not_before_start(label: str, date_sql: str) -> Check:
    """`before_start_date` when the date is before SEGMENTS_START_DATE."""
    return Check(
        "before_start_date",
        f"({date_sql} < _start_date)",
        f"{sql_str(label + '=')} || {quoted(src(label))} || "
        "' is before SEGMENTS_START_DATE ' || strftime(_start_date, '%Y-%m-%d')",
    )
