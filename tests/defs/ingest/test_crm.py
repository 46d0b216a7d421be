"""pipelines/defs/ingest/crm.py on tests/fixtures/crm/contacts.csv (reference data).

Fixture lines: 2-3 the same person spelt twice, 4 no email (phone only), 5 neither email nor
phone, 6 birth date 17/13/1985 and consent 'maybe', 7 born 2090, 8 created in 2031, 9 created
'not a date'.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from .conftest import NOW, Warehouse

FIXTURE = "contacts.csv"


@pytest.fixture()
def loaded(wh: Warehouse) -> Warehouse:
    wh.land("crm", FIXTURE)
    wh.load("crm")
    return wh


def test_duplicates_and_spelling_are_kept_for_staging(loaded: Warehouse) -> None:
    rows = loaded.rows(
        "SELECT email, phone, birth_date, created_at, marketing_consent FROM raw.crm_contacts "
        "ORDER BY _source_line"
    )
    assert rows[0] == (
        "Anna.K@Mail.com ",
        "+48 600 100 200",
        date(1990, 4, 17),
        datetime(2023, 1, 10, 9, 0),
        True,
    )  # consent 'yes'
    assert rows[1] == (
        "anna.k@mail.com",
        "600100200",
        date(1990, 4, 17),
        datetime(2024, 2, 1, 10, 0),
        True,
    )  # consent '1'
    assert rows[2][0] is None and rows[2][4] is False  # no email, consent 'no'
    assert len(rows) == 4  # line 5 has no email and no phone, and is kept too


def test_partition_is_the_load_date(loaded: Warehouse) -> None:
    assert loaded.rows("SELECT DISTINCT _partition_date FROM raw.crm_contacts") == [(NOW.date(),)]


def test_each_messy_line_is_quarantined_with_its_reason_and_line(loaded: Warehouse) -> None:
    assert loaded.reasons("crm") == {
        6: "invalid_value",  # birth date 17/13/1985
        7: "invalid_value",  # born 2090
        8: "future_date",
        9: "invalid_timestamp",
    }


def test_unchanged_file_is_not_reloaded_and_changed_file_replaces_its_rows(
    loaded: Warehouse,
) -> None:
    again = loaded.load("crm", now=datetime(2026, 11, 23, 3, 0))
    assert [f.status for f in again.files] == ["unchanged"]
    assert loaded.one("SELECT count(*) FROM raw.crm_contacts") == 4

    path = loaded.landing / "crm" / FIXTURE
    path.write_text(path.read_text() + "gus@example.com,Gus,Grey,,,,,,2024-01-01,lead,no\n")
    changed = loaded.load("crm", now=datetime(2026, 11, 23, 3, 0))
    assert [f.status for f in changed.files] == ["loaded"]
    assert loaded.rows("SELECT count(*), min(_partition_date) FROM raw.crm_contacts") == [
        (5, date(2026, 11, 23))
    ]
    assert loaded.one("SELECT count(*) FROM quarantine.crm") == 4
