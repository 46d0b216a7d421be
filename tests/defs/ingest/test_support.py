"""pipelines/defs/ingest/support.py on tests/fixtures/support/tickets_2024-03.csv.

Fixture lines: 2-4 good (4 without requester), 5 T-1 again, 6 type 'praise', 7 created
'yesterday', 8 no ticket id.
"""

from __future__ import annotations

from datetime import datetime

from .conftest import Warehouse

FIXTURE = "tickets_2024-03.csv"


def test_tickets_are_typed_and_messy_lines_quarantined(wh: Warehouse) -> None:
    wh.land("support", FIXTURE)
    wh.load("support")
    assert wh.rows(
        "SELECT ticket_id, requester_email, created_at, type, status FROM raw.support_tickets "
        "ORDER BY _source_line"
    ) == [
        ("T-1", "anna.k@mail.com", datetime(2024, 3, 5, 10, 0), "question", "solved"),
        ("T-2", "Bob@Example.com", datetime(2024, 3, 6, 11, 30), "complaint", "open"),
        ("T-3", None, datetime(2024, 3, 6, 12, 0), "return", "pending"),
    ]
    assert wh.reasons("support") == {
        5: "duplicate_id",
        6: "invalid_value",
        7: "invalid_timestamp",
        8: "missing_required",
    }


def test_ticket_of_an_earlier_file_is_a_duplicate_even_after_that_file_is_archived(
    wh: Warehouse,
) -> None:
    late = (
        "ticket_id,requester_email,created_at,type,status\n"
        "T-2,bob@example.com,2024-03-06T11:30:00Z,complaint,solved\n"
    )
    wh.land("support", FIXTURE)
    wh.load("support")
    wh.land("support", as_name="tickets_late.csv", data=late)
    wh.load("support")
    detail = "SELECT reason_detail FROM quarantine.support WHERE _source_file LIKE '%late.csv'"
    assert wh.one(detail) == f"ticket_id=T-2 already in support/{FIXTURE} line 3"

    # The first export is archived (removed from the landing zone): its rows stay in raw,
    # and still win over the late copy.
    (wh.landing / "support" / FIXTURE).unlink()
    wh.load("support")
    assert wh.one("SELECT count(*) FROM raw.support_tickets") == 3
    assert wh.one(detail) == (f"ticket_id=T-2 already in support/{FIXTURE} line 3")
