"""The public event JSON assembled from stored documents is the `EventPage` the API promises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy.dialects import sqlite

from base_service import event_json
from base_service.api.schemas import EventOut, EventPage
from base_service.store import reads
from base_service.store.tables import events

START = datetime(2030, 3, 30, 23, 30, 0, 123456, tzinfo=UTC)


def _row(**fields: Any) -> dict[str, Any]:
    """A row in the stored form: UTC datetimes, JSON lists, plain strings."""
    row: dict[str, Any] = {
        "plugin_id": "ics",
        "event_id": "ev-1",
        "venue_id": "hall",
        "title": "Show",
        "start_at": START,
        "end_at": START + timedelta(hours=2),
        "all_day": False,
        "timezone": None,
        "status": "scheduled",
        "url": None,
        "description": None,
        "image_url": None,
        "ticket_url": None,
        "categories": [],
        "performers": [],
        "source_updated_at": None,
        "first_seen_at": START - timedelta(days=3),
        "last_seen_at": START - timedelta(days=1),
        "last_run_id": 7,
        "removed_at": None,
    }
    row.update(fields)
    row["document"] = event_json.document(row)
    return row


ROWS = [
    _row(),
    # Just after its zone moved to summer time: served at +01:00, stored in UTC.
    _row(
        event_id="lisbon",
        timezone="Europe/Lisbon",
        start_at=START + timedelta(hours=2),
        end_at=None,
    ),
    _row(event_id="tokyo", timezone="Asia/Tokyo", all_day=True, status="cancelled"),
    _row(event_id="unknown-zone", timezone="Mars/Olympus"),
    _row(
        event_id='quote"and\\slash',
        title='Café ☕ "late"\n<script>',
        description="Line\u2028break",
        url="https://example.org/e?a=1&b=2",
        image_url="https://example.org/i.png",
        ticket_url="https://tickets.example.org/1",
        categories=["jazz", "late"],
        performers=["Ana", "Bo"],
        source_updated_at=datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=1))),
    ),
    _row(event_id="removed", removed_at=START),
    # Run fields that differ from their neighbours' one at a time (pages share equal tails).
    _row(event_id="newer", first_seen_at=START - timedelta(hours=5)),
    _row(event_id="later-run", last_seen_at=START, last_run_id=8),
    _row(event_id="other-run", last_run_id=9),
    _row(plugin_id="other", event_id="stale-one"),
]


def _listed(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as a listing reads it (`reads.DOCUMENT_COLUMNS`), run fields decoded."""
    return (row["document"], *(row[name] for name in event_json.RUN_FIELDS), row["plugin_id"])


def _page(stale: dict[str, bool], cursor: str | None) -> bytes:
    return event_json.page([_listed(row) for row in ROWS], stale, cursor)


def _as_model(row: dict[str, Any], stale: bool) -> EventOut:
    """The public model of a stored row, field by field, as the API built it before pages
    were assembled from documents (from rows read back from the store, so in UTC)."""
    zone = ZoneInfo(row["timezone"]) if row["timezone"] in available_timezones() else None

    def local(value: datetime | None) -> datetime | None:
        return value if value is None or zone is None else value.astimezone(zone)

    return EventOut(
        plugin_id=row["plugin_id"],
        id=row["event_id"],
        venue_id=row["venue_id"],
        title=row["title"],
        start=local(row["start_at"]),
        end=local(row["end_at"]),
        all_day=row["all_day"],
        timezone=row["timezone"],
        status=row["status"],
        url=row["url"],
        description=row["description"],
        image_url=row["image_url"],
        ticket_url=row["ticket_url"],
        categories=row["categories"],
        performers=row["performers"],
        updated_at=row["source_updated_at"] and row["source_updated_at"].astimezone(UTC),
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        last_run_id=row["last_run_id"],
        removed_at=row["removed_at"],
        stale=stale,
    )


@pytest.mark.parametrize("cursor", [None, 'abc"def'])
def test_an_assembled_page_is_the_model_serialised(cursor: str | None) -> None:
    stale = {"other": True}
    expected = EventPage(
        items=[_as_model(row, stale.get(row["plugin_id"], False)) for row in ROWS],
        next_cursor=cursor,
    )
    assert _page(stale, cursor) == expected.model_dump_json().encode()


def test_a_time_its_zone_cannot_show_is_served_in_utc() -> None:
    """Validation quarantines such events; one stored before that rule still renders."""
    row = _row(start_at=datetime(9999, 12, 31, 20, tzinfo=UTC), timezone="Asia/Tokyo")
    assert json.loads(row["document"])["start"] == "9999-12-31T20:00:00Z"


def test_times_are_served_in_the_events_zone_and_updated_at_in_utc() -> None:
    items = {item["id"]: item for item in json.loads(_page({}, None))["items"]}
    assert items["ev-1"]["start"] == "2030-03-30T23:30:00.123456Z"
    assert items["lisbon"]["start"] == "2030-03-31T02:30:00.123456+01:00"
    assert items["lisbon"]["end"] is None
    assert items["tokyo"]["start"] == "2030-03-31T08:30:00.123456+09:00"
    assert items["unknown-zone"]["start"] == "2030-03-30T23:30:00.123456Z"
    assert items['quote"and\\slash']["updated_at"] == "2030-01-01T08:00:00Z"


def test_run_fields_and_freshness_come_from_the_row_not_the_document() -> None:
    items = json.loads(_page({"other": True}, None))["items"]
    by_id = {item["id"]: item for item in items}
    assert [item["id"] for item in items] == [row["event_id"] for row in ROWS]
    assert by_id["removed"]["removed_at"] == "2030-03-30T23:30:00.123456Z"
    assert by_id["ev-1"]["last_run_id"] == 7
    assert by_id["ev-1"]["first_seen_at"] == "2030-03-27T23:30:00.123456Z"
    assert [item["id"] for item in items if item["stale"]] == ["stale-one"]
    fields = list(EventPage.model_json_schema()["$defs"]["EventOut"]["properties"])
    assert all(list(item) == fields for item in items)


def test_an_empty_page() -> None:
    assert json.loads(event_json.page([], {}, None)) == {"items": [], "next_cursor": None}


def test_run_fields_read_as_sqlite_stores_them_decode_to_the_same_page() -> None:
    """A listing reads the run fields raw (`reads.DOCUMENT_COLUMNS`: on SQLite, text) and a
    page decodes each distinct set once: the bytes are those of processed rows."""
    dialect = sqlite.dialect()
    to_text = {name: events.c[name].type.bind_processor(dialect) for name in event_json.RUN_FIELDS}
    raw_rows = [
        _listed(
            {
                **row,
                **{
                    name: row[name] if process is None else process(row[name])
                    for name, process in to_text.items()
                },
            }
        )
        for row in ROWS
    ]
    assert isinstance(raw_rows[0][1], str)  # first_seen_at, as SQLite hands it back
    decode = reads.decode_run_fields(dialect)
    stale = {"other": True}
    assert event_json.page(raw_rows, stale, "c", decode) == _page(stale, "c")
