"""pipelines/defs/ingest/events.py on tests/fixtures/events/events_2024-03-05.jsonl.

Fixture lines: 1 anonymous session, 2 page view at +02:00, 3 email open at -05:00 (next UTC
day), 4 unix seconds, 5 event 'teleport', 6 neither email nor anonymous_id, 7 timestamp
'5 March', 8 truncated.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from .conftest import Warehouse


def test_events_are_typed_with_utc_times_and_json_properties(wh: Warehouse) -> None:
    wh.land("events", "events_2024-03-05.jsonl")
    wh.load("events")
    rows = wh.rows(
        "SELECT _source_line, event, occurred_at, email, anonymous_id, properties, "
        "_partition_date FROM raw.events ORDER BY 1"
    )
    assert [r[:5] for r in rows] == [
        (1, "session_start", datetime(2024, 3, 5, 8, 0), None, "anon-1"),
        (2, "page_view", datetime(2024, 3, 5, 7, 0), "Anna.K@Mail.com", "anon-1"),
        (3, "email_open", datetime(2024, 3, 6, 4, 30), "anna.k@mail.com", None),
        (4, "add_to_cart", datetime(2024, 3, 5, 9, 0), "bob@example.com", None),
    ]
    assert json.loads(rows[1][5]) == {"page": "/products/mug"}
    assert rows[2][6] == date(2024, 3, 6)
    assert wh.reasons("events") == {
        5: "invalid_value",
        6: "missing_required",
        7: "invalid_timestamp",
        8: "invalid_json",
    }
