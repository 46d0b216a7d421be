"""Daily exchange rates CSV → raw.fx_rates (one row per currency per day).

Reference data: a new or changed file loads in full, `_partition_date` is the
rate's date. The rate column is named after the currency it converts to (`rate_to_USD`); a
file whose rate column names anything but SEGMENTS_REPORTING_CURRENCY fails as a whole,
because every row of it would silently convert into the wrong currency. Weekends are missing
in the source on purpose: staging carries the last known rate forward.
"""

from __future__ import annotations

from . import rules as r
from .spec import Check, CsvFormat, IngestError, LandedFile, ReadPlan, RunContext, SourceSpec

COLUMNS = (("rate_date", "DATE"), ("currency", "VARCHAR"), ("rate_to_reporting", "DECIMAL(18,8)"))


def rate_column(reporting_currency: str) -> str:
    return f"rate_to_{reporting_currency}"


def _check_rate_column(reporting_currency: str):
    expected = rate_column(reporting_currency)

    def check(header: list[str], rel: str) -> None:
        rates = [h for h in header if h.casefold().startswith("rate_to_")]
        if rates and expected.casefold() not in {h.casefold() for h in rates}:
            raise IngestError(
                f"{rel}: the rate column is {rates[0]!r}, but SEGMENTS_REPORTING_CURRENCY is "
                f"{reporting_currency}, so every rate would convert into the wrong currency. "
                f"Land rates to {reporting_currency} (column {expected!r}) or change "
                "SEGMENTS_REPORTING_CURRENCY."
            )

    return check


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    rate = rate_column(ctx.reporting_currency)
    s = r.src
    fields = {
        "rate_date": f"CAST({r.strptime_utc(s('date'), ('%Y-%m-%d',))} AS DATE)",
        "currency": r.upper_code(s("currency")),
        "rate_to_reporting": r.decimal(s(rate), scale=8),
    }
    checks = (
        r.required("date"),
        r.required("currency"),
        r.required(rate),
        r.parses("invalid_timestamp", "date", "rate_date", "a date like 2024-03-05"),
        r.parses("invalid_value", rate, "rate_to_reporting", "a number"),
        Check(
            "invalid_value",
            "(rate_to_reporting <= 0)",
            f"{r.sql_str(rate + '=')} || {r.quoted(s(rate))} || ' is not a positive rate'",
        ),
        r.known_currency("currency", "currency"),
        r.not_in_future("date", "rate_date"),
    )
    return ReadPlan(
        format=CsvFormat(
            columns=("date", "currency", rate),
            required=("date", "currency", rate),
            check_header=_check_rate_column(ctx.reporting_currency),
        ),
        fields=tuple(fields.items()),
        date_field="rate_date",
        checks=checks,
    )


SPEC = SourceSpec(
    name="fx",
    table="fx_rates",
    description=(
        "Exchange rates, one row per currency per day: units of the reporting currency for "
        "one unit of `currency`. Origin: daily rates CSVs (`date, currency, rate_to_<REPORTING>`) "
        "landed in `landing/fx/`. Reference data: each new or changed file loads in full; "
        "`_partition_date` is the rate date. Rejected lines go to quarantine.fx."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=(".csv",),
    key="currency || ' on ' || CAST(rate_date AS VARCHAR)",
    key_label="currency/date",
    fingerprint=lambda file, ctx: f"reporting_currency={ctx.reporting_currency}",
)
