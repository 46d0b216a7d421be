"""Condition values: type them for their column, resolve date words, refuse SQL-looking text.

Each value becomes the Python type DuckDB binds for the column (str, int, Decimal, date,
datetime, bool) or a RelativeDate that the compiler resolves against each as-of date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pipelines.defs.segments.catalogue import Column, Kind
from pipelines.defs.segments.definition import (
    MAX_TEXT_LENGTH,
    RelativeDate,
    did_you_mean,
    show,
)

_RELATIVE = re.compile(r"^\s*(\d{1,5})\s+(day|week|month|year)s?\s+ago\s*$", re.IGNORECASE)

# Text that reads as SQL rather than data: statement separators, comments, a quote that closes
# a literal and carries on with SQL, or a DDL/DML phrase. Bound parameters make such text
# harmless, but it is never a real country or label, so it is refused with its own message.
_SQL_LIKE = re.compile(
    r"(?P<separator>;)|(?P<comment>--|/\*|\*/)"
    r"|(?P<quote>'\s*(?:or|and|union|select|drop|delete|insert|update)\b)"
    # statement phrases, narrow enough that "Drop Shipping" or "copy paper" stay plain data
    r"|(?P<statement>\b(?:drop|alter|create)\s+(?:table|view|schema|database|index|macro)\b"
    r"|\btruncate\s+table\b|\b(?:attach|detach)\s+(?:database\s+)?'|\bcopy\s+\w+\s+(?:from|to)\s+'"
    r"|\bpragma\s+\w+|\bdelete\s+from\b|\binsert\s+into\b|\bunion\s+(?:all\s+)?select\b"
    r"|\bupdate\s+\w+\s+set\b)",
    re.IGNORECASE,
)
_SQL_REASON = {
    "separator": "contains ';', which ends a SQL statement",
    "comment": "contains a SQL comment marker (--, /* or */)",
    "quote": "closes a quote and continues with SQL",
    "statement": "contains a SQL statement",
}
_YAML_BOOLEANS = "yes/no/on/off/true/false/y/n"
_EQUALITY = ("=", "!=", "in", "not in")


class ValueProblem(ValueError):
    """A value that does not fit its column; the message says what would."""


def check_not_sql(value: str) -> None:
    """Refuse text that reads as SQL, control characters and runaway lengths."""
    match = _SQL_LIKE.search(value)
    if match:
        reason = _SQL_REASON[match.lastgroup or "statement"]
        raise ValueProblem(
            f"value {value!r} looks like SQL ({reason}). A condition value is plain data such "
            "as PL, 25-34 or Champions. Values are never pasted into SQL, but text like this "
            "is refused so that a mistaken paste fails here instead of silently matching no one."
        )
    if any(ord(ch) < 32 for ch in value):
        raise ValueProblem(
            f"value {value!r} contains a control character (tab, newline); remove it."
        )
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueProblem(
            f"value is {len(value)} characters long; at most {MAX_TEXT_LENGTH} are allowed."
        )


def parse_date_word(text: str) -> RelativeDate | None:
    """`today` or `N days|weeks|months|years ago` → RelativeDate; anything else → None."""
    if text.strip().lower() == "today":
        return RelativeDate(0, "day")
    relative = _RELATIVE.match(text)
    return RelativeDate(int(relative.group(1)), relative.group(2).lower()) if relative else None


def _date_value(value: Any, column: Column) -> date | datetime | RelativeDate:
    is_date = column.kind is Kind.DATE
    if isinstance(value, datetime):
        if is_date:
            raise ValueProblem(
                f"{value} has a time of day, but {column.name} is a date; write YYYY-MM-DD."
            )
        return value
    if isinstance(value, date):
        return value
    usage = (
        f"{column.name} is a {column.kind} ({column.data_type}): write a date as YYYY-MM-DD "
        "(e.g. 2024-01-31), or relative to the as-of date as 'today' or 'N days|weeks|months|"
        "years ago' (e.g. '30 days ago', '6 months ago')"
    )
    if not isinstance(value, str):
        raise ValueProblem(f"value {value!r} is not a date. {usage}.")
    word = parse_date_word(value)
    if word is not None:
        return word
    try:
        return date.fromisoformat(value) if is_date else datetime.fromisoformat(value)
    except ValueError:
        raise ValueProblem(f"value {value!r} is not a date. {usage}.") from None


def _text_value(value: Any, column: Column, op: str) -> str:
    if isinstance(value, bool):
        raise ValueProblem(
            f"YAML read the value as {str(value).lower()} (it reads the unquoted words "
            f"{_YAML_BOOLEANS} as true/false), but {column.name} is text: quote the value, "
            "e.g. 'NO' for Norway."
        )
    if not isinstance(value, str):
        raise ValueProblem(
            f"value {value!r} is a {type(value).__name__}, but {column.name} is text: "
            f"quote it, e.g. '{value}'."
        )
    known = column.accepted_values
    if op in _EQUALITY and known and value not in known:
        raise ValueProblem(
            f"{column.name} never has the value {value!r}.{did_you_mean(value, known)} "
            f"Its values are: {', '.join(known)} "
            f"(from the accepted_values test in {column.declared_in.name})."
        )
    return value


def _number_value(value: Any, column: Column) -> int | Decimal:
    whole = column.kind is Kind.INTEGER
    # bool is an int in Python, and YAML turns unquoted yes/no into bools
    wrong = isinstance(value, bool) or not isinstance(value, int | float)
    if wrong or (whole and isinstance(value, float)):
        example = "3" if whole else "3 or 99.5"
        raise ValueProblem(
            f"value {value!r} is not a {column.kind}, but {column.name} is a {column.kind} "
            f"({column.data_type}): write it without quotes, e.g. {example}."
        )
    # Decimal via str: 0.1 stays exactly 0.1 against a DECIMAL column
    return value if whole else Decimal(str(value))


def typed_value(value: Any, column: Column, op: str) -> Any:
    """The value as the Python type DuckDB binds for the column's kind, or a ValueProblem."""
    if isinstance(value, Mapping | list):
        hint = "; to match any of several values use op: in" if op in ("=", "!=") else ""
        raise ValueProblem(f"value {show(value)} is not a single value{hint}.")
    if value is None:
        raise ValueProblem("value is empty (null); to find missing values use op: is null.")
    if isinstance(value, str):
        check_not_sql(value)
    if column.kind is Kind.TEXT:
        return _text_value(value, column, op)
    if column.kind in (Kind.INTEGER, Kind.NUMBER):
        return _number_value(value, column)
    if column.kind in (Kind.DATE, Kind.TIMESTAMP):
        return _date_value(value, column)
    if not isinstance(value, bool):  # Kind.BOOLEAN
        raise ValueProblem(
            f"value {value!r} is not true/false, but {column.name} is: "
            "write true or false without quotes."
        )
    return value


def check_order(low: Any, high: Any) -> None:
    """A `between` whose low end comes after its high end matches no one: refuse it."""
    if isinstance(low, RelativeDate) and isinstance(high, RelativeDate):
        # '30 days ago' is later than '90 days ago'
        reversed_ = low.unit == high.unit and low.amount < high.amount
    elif isinstance(low, RelativeDate) or isinstance(high, RelativeDate):
        reversed_ = False  # resolved per as-of date; not comparable here
    else:
        reversed_ = type(low) is type(high) and low > high
    if reversed_:
        raise ValueProblem(f"between takes [low, high], but {low} comes after {high}: swap them.")
