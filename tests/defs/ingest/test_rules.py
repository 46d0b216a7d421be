"""pipelines/defs/ingest/rules.py: the SQL that types text, evaluated in DuckDB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from pipelines.defs.ingest import rules
from pipelines.lib import duck


def evaluate(expr_of, value: str | None):
    """Evaluate a rules builder on one text value (the column `v`)."""
    with duck.connect(":memory:") as con:
        sql = f"SELECT {expr_of('v')} FROM (SELECT ?::VARCHAR AS v)"
        return con.execute(sql, [value]).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.30", Decimal("12.30")),
        (" -1,234.56 ", Decimal("-1234.56")),
        ("1,234,567.8", Decimal("1234567.80")),
        ("12,30", None),  # a decimal comma is not read as 1230
        ("12,3x", None),
        ("", None),
    ],
)
def test_decimal(text: str, expected: Decimal | None) -> None:
    assert evaluate(rules.decimal, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("2", 2), (" -3 ", -3), ("19.99", None), ("x", None)]
)
def test_integer_never_rounds(text: str, expected: int | None) -> None:
    assert evaluate(rules.integer, text) == expected


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("PST", datetime(2024, 3, 5, 22, 0)),
        ("CEST", datetime(2024, 3, 5, 12, 0)),
        ("+05:30", datetime(2024, 3, 5, 8, 30)),
        ("UTC-3", datetime(2024, 3, 5, 17, 0)),
        ("Europe/Berlin", datetime(2024, 3, 5, 13, 0)),  # CET in March
        ("America/New_York", datetime(2024, 3, 5, 19, 0)),
        ("Mars/Base", None),
    ],
)
def test_local_time_in_a_zone_becomes_utc(zone: str, expected: datetime | None) -> None:
    local = "TIMESTAMP '2024-03-05 14:00'"
    assert evaluate(lambda v: rules.local_to_utc(local, v), zone) == expected


def test_iso_and_offset_timestamps() -> None:
    assert evaluate(rules.iso_timestamp_utc, "2024-03-05T14:02:11+01:00") == datetime(
        2024, 3, 5, 13, 2, 11
    )
    assert evaluate(rules.iso_timestamp_utc, "2024-03-05 14:02:11") == datetime(
        2024, 3, 5, 14, 2, 11
    )
    fmt = rules.strptime_utc
    assert evaluate(lambda v: fmt(v, ["%Y-%m-%d %H:%M:%S %z"]), "2024-03-05 14:02:11 -0500") == (
        datetime(2024, 3, 5, 19, 2, 11)
    )
    assert evaluate(rules.unix_seconds_utc, "1709647331") == datetime(2024, 3, 5, 14, 2, 11)
    assert evaluate(rules.unix_seconds_utc, "1709647331.5") is None


def test_boolean_spellings() -> None:
    assert [evaluate(rules.boolean, v) for v in ("Yes", "0", "TRUE", "n", "maybe")] == [
        True,
        False,
        True,
        False,
        None,
    ]
