"""base_service.ics with fixed rows: what goes in comes back out of a parsed calendar."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar, Event

from base_service.ics import PRODID, event_uid, render_calendar

HALL = ("fake", "hall")
VENUES = {HALL: {"name": "Sala Ribeira, Porto", "address": "Cais 7; 4050-510 Porto"}}


def row(event_id: str = "ev-1", **fields: Any) -> dict[str, Any]:
    """A stored event row, as `store.reads.list_events` returns it (times in UTC)."""
    values: dict[str, Any] = {
        "plugin_id": "fake",
        "event_id": event_id,
        "venue_id": "hall",
        "title": "Jazz Night",
        "start_at": datetime(2030, 1, 10, 20, tzinfo=UTC),
        "end_at": datetime(2030, 1, 10, 22, 30, tzinfo=UTC),
        "all_day": False,
        "timezone": "Europe/Lisbon",
        "status": "scheduled",
        "url": "https://hall.example/jazz",
        "description": "The house trio.",
        "image_url": "https://hall.example/jazz.png",
        "ticket_url": "https://tickets.example/jazz",
        "categories": ["music", "jazz"],
        "performers": ["The House Trio"],
        "source_updated_at": datetime(2029, 11, 20, 9, 15, tzinfo=UTC),
        "changed_at": datetime(2029, 12, 1, 8, tzinfo=UTC),
        "last_seen_at": datetime(2029, 12, 24, 6, tzinfo=UTC),
        "first_seen_at": datetime(2029, 11, 21, tzinfo=UTC),
        "removed_at": None,
    }
    values.update(fields)
    return values


def unescape(value: object) -> str:
    """An extension property's TEXT value (icalendar leaves those escaped)."""
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m[1] in "nN" else m[1], str(value))


def moment(value: object) -> datetime:
    """A parsed date-time (not a date)."""
    assert isinstance(value, datetime), value
    return value


def parse(body: bytes) -> tuple[Calendar, dict[str, Event]]:
    calendar = Calendar.from_ical(body)
    return calendar, {str(event["UID"]): event for event in calendar.events}


def one(rows: list[dict[str, Any]], **kwargs: Any) -> Event:
    _, events = parse(render_calendar(rows, **kwargs))
    (event,) = events.values()
    return event


# Lisbon in winter (WET, +00:00) and summer (WEST, +01:00); New York in winter (EST, -05:00).
ZONED = [
    row("lisbon-winter"),
    row(
        "lisbon-summer",
        start_at=datetime(2030, 7, 10, 19, tzinfo=UTC),
        end_at=datetime(2030, 7, 10, 21, tzinfo=UTC),
    ),
    row(
        "new-york",
        timezone="America/New_York",
        start_at=datetime(2030, 1, 10, 20, tzinfo=UTC),
        end_at=datetime(2030, 1, 11, 1, tzinfo=UTC),
    ),
]
WALL_TIMES = {
    "lisbon-winter": (datetime(2030, 1, 10, 20), datetime(2030, 1, 10, 22, 30)),
    "lisbon-summer": (datetime(2030, 7, 10, 20), datetime(2030, 7, 10, 22)),
    "new-york": (datetime(2030, 1, 10, 15), datetime(2030, 1, 10, 20)),
}


def test_the_calendar_says_who_made_it() -> None:
    calendar, _ = parse(render_calendar([row()]))
    assert str(calendar["PRODID"]) == PRODID == "-//Marquee//Marquee events//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["X-WR-CALNAME"]) == calendar.calendar_name == "Marquee events"
    named, _ = parse(render_calendar([], name="Sala Ribeira, Porto"))
    assert unescape(named["X-WR-CALNAME"]) == "Sala Ribeira, Porto"
    assert named.events == []


def test_every_field_comes_back() -> None:
    source = row()
    event = one([source], venues=VENUES)
    assert str(event["UID"]) == "ev-1@fake.marquee"
    assert event.start == source["start_at"] and event.end == source["end_at"]
    assert str(event["SUMMARY"]) == "Jazz Night"
    assert str(event["DESCRIPTION"]) == "The house trio."
    assert str(event["URL"]) == "https://hall.example/jazz"
    assert str(event["LOCATION"]) == "Sala Ribeira, Porto, Cais 7; 4050-510 Porto"
    assert [str(name) for name in event.categories] == ["music", "jazz"]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.stamp == source["changed_at"]
    assert event.last_modified == source["source_updated_at"]
    (image,) = event.images
    assert image.uri == "https://hall.example/jazz.png"
    assert str(event["X-MARQUEE-STATUS"]) == "scheduled"
    assert str(event["X-TICKET-URL"]) == "https://tickets.example/jazz"
    assert unescape(event["X-PERFORMER"]) == "The House Trio"


def test_optional_fields_left_out_when_unknown() -> None:
    bare = row(
        end_at=None,
        url=None,
        description=None,
        image_url=None,
        ticket_url=None,
        categories=[],
        performers=[],
        source_updated_at=None,
    )
    event = one([bare])  # no venue known either
    for name in ("DTEND", "DESCRIPTION", "URL", "IMAGE", "CATEGORIES", "LAST-MODIFIED", "LOCATION"):
        assert name not in event, name
    assert event.start == bare["start_at"]
    # Without its own page, an event links to its tickets.
    assert str(one([row(url=None)])["URL"]) == "https://tickets.example/jazz"


def test_times_are_in_the_events_own_zone() -> None:
    calendar, events = parse(render_calendar(ZONED))
    for source in ZONED:
        event = events[f"{source['event_id']}@fake.marquee"]
        assert event.start == source["start_at"] and event.end == source["end_at"]
        for name in ("DTSTART", "DTEND"):
            assert event[name].params["TZID"] == source["timezone"]
        wall_start, wall_end = WALL_TIMES[source["event_id"]]
        assert moment(event.start).replace(tzinfo=None) == wall_start
        assert moment(event.end).replace(tzinfo=None) == wall_end
    assert {zone.tz_name for zone in calendar.timezones} == {"Europe/Lisbon", "America/New_York"}
    assert calendar.get_missing_tzids() == set()


def test_the_vtimezones_alone_place_the_events_right() -> None:
    """A client that knows no zone names reads the same instants from the VTIMEZONE blocks."""
    calendar, events = parse(render_calendar(ZONED))
    zones = {zone.tz_name: zone.to_tz(lookup_tzid=False) for zone in calendar.timezones}
    for source in ZONED:
        event = events[f"{source['event_id']}@fake.marquee"]
        zone = zones[source["timezone"]]
        for name, column in (("DTSTART", "start_at"), ("DTEND", "end_at")):
            wall = moment(event.decoded(name)).replace(tzinfo=None)
            assert wall.replace(tzinfo=zone).astimezone(UTC) == source[column]


def test_events_without_a_known_zone_are_in_utc() -> None:
    for zone in (None, "UTC", "Not/AZone"):
        source = row(timezone=zone)
        body = render_calendar([source])
        event = one([source])
        assert event.start == source["start_at"]
        assert "TZID" not in event["DTSTART"].params
        assert b"DTSTART:20300110T200000Z" in body
        assert b"BEGIN:VTIMEZONE" not in body


def test_the_repeated_hour_keeps_its_instant() -> None:
    """01:30 happens twice in New York on 3 November 2030: the second one is written in UTC."""
    first = datetime(2030, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2030, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST
    rows = [
        row("first", timezone="America/New_York", start_at=first, end_at=None),
        row("second", timezone="America/New_York", start_at=second, end_at=None),
    ]
    _, events = parse(render_calendar(rows))
    # (Compared in UTC: Python never calls a time in the repeated hour equal to another zone's.)
    assert moment(events["first@fake.marquee"].start).astimezone(UTC) == first
    assert events["first@fake.marquee"]["DTSTART"].params["TZID"] == "America/New_York"
    assert moment(events["second@fake.marquee"].start).astimezone(UTC) == second
    assert "TZID" not in events["second@fake.marquee"]["DTSTART"].params


def test_all_day_events_are_dates_with_an_exclusive_end() -> None:
    # 10 and 11 July in Lisbon: local midnights, stored in UTC as the evenings before.
    festival = row(
        "festival",
        all_day=True,
        start_at=datetime(2030, 7, 9, 23, tzinfo=UTC),
        end_at=datetime(2030, 7, 11, 23, tzinfo=UTC),
    )
    one_day = row("one-day", all_day=True, start_at=datetime(2030, 7, 9, 23, tzinfo=UTC))
    one_day["end_at"] = None
    body = render_calendar([festival, one_day])
    _, events = parse(body)
    event = events["festival@fake.marquee"]
    assert event.start == date(2030, 7, 10) and not isinstance(event.start, datetime)
    assert event.end == date(2030, 7, 12)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert events["one-day@fake.marquee"].start == date(2030, 7, 10)
    assert events["one-day@fake.marquee"].end == date(2030, 7, 11)
    assert b"DTSTART;VALUE=DATE:20300710\r\nDTEND;VALUE=DATE:20300712\r\n" in body
    assert b"BEGIN:VTIMEZONE" not in body  # dates need no zone


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("scheduled", "CONFIRMED"),
        ("rescheduled", "CONFIRMED"),
        ("cancelled", "CANCELLED"),
        ("postponed", "TENTATIVE"),
    ],
)
def test_statuses(status: str, expected: str) -> None:
    event = one([row(status=status)])
    assert str(event["STATUS"]) == expected
    assert str(event["X-MARQUEE-STATUS"]) == status


def test_an_all_day_event_on_the_last_date_still_renders() -> None:
    """Validation quarantines these; one an earlier version stored must not break a feed."""
    last = row("last", all_day=True, timezone=None, start_at=datetime(9999, 12, 31, tzinfo=UTC))
    last["end_at"] = None
    event = one([last])
    assert event.start == event.end == date(9999, 12, 31)


def test_vtimezones_come_in_one_order_whatever_the_string_hashing() -> None:
    """Set order follows PYTHONHASHSEED: the same events must give the same bytes (and ETag)
    in every process, so each seed renders here in a process of its own."""
    zones = ["Europe/Lisbon", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "Africa/Cairo"]
    script = (
        "import sys; from datetime import datetime, UTC; from tests.ics.test_render import row;"
        " from base_service.ics import render_calendar;"
        f" rows = [row(z, timezone=z) for z in {zones!r}];"
        " sys.stdout.buffer.write(render_calendar(rows))"
    )
    bodies = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(bodies) == 1
    tzids = re.findall(rb"BEGIN:VTIMEZONE\r\nTZID:([^\r]+)", bodies.pop())
    assert [tzid.decode() for tzid in tzids] == sorted(zones)


def test_identical_rows_give_identical_bytes() -> None:
    rows = [*ZONED, row("x", all_day=True, start_at=datetime(2030, 3, 1, tzinfo=UTC))]
    first = render_calendar(rows, venues=VENUES, name="A")
    assert render_calendar([dict(r) for r in rows], venues=dict(VENUES), name="A") == first
    # Nothing a run touches without changing the event moves the document.
    seen_again = [{**r, "last_seen_at": datetime(2031, 1, 1, tzinfo=UTC)} for r in rows]
    assert render_calendar(seen_again, venues=VENUES, name="A") == first


def test_uids_are_stable_and_distinct_across_plugins() -> None:
    rows = [row("show-1"), row("show-1", plugin_id="other", venue_id="hall")]
    _, events = parse(render_calendar(rows))
    assert set(events) == {"show-1@fake.marquee", "show-1@other.marquee"}
    assert event_uid("fake", "show-1") == "show-1@fake.marquee"


ODD_ID = ('ü/é 🎭,;:\\"<>@\t\n%~' * 40)[:500]


@pytest.mark.parametrize("event_id", [ODD_ID, "a b/c?d#e", "sha256.looks-hashed", "x" * 500])
def test_any_event_id_gives_a_valid_stable_uid(event_id: str) -> None:
    uid = event_uid("fake", event_id)
    assert re.fullmatch(r"[A-Za-z0-9._~%-]+@fake\.marquee", uid), uid
    assert len(uid) <= 120
    assert event_uid("fake", event_id) == uid
    event = one([row(event_id)])
    assert str(event["UID"]) == uid


def test_uids_of_different_ids_differ() -> None:
    ids = [ODD_ID, ODD_ID[:-1], "a b", "a%20b", "a+b", "x" * 500, "x" * 499, "sha256.x", "A", "a"]
    hashed = event_uid("fake", "x" * 500).split("@")[0]
    ids.append(hashed)  # an id that looks like another's hash still gets its own UID
    uids = [event_uid("fake", event_id) for event_id in ids]
    assert len(set(uids)) == len(ids)


def test_text_survives_escaping_and_folding() -> None:
    title = "Fado, saudade; e mais\nSegunda linha — ação «ao vivo» 🎸"
    description = "Linha 1\nLinha 2, com vírgula; e ponto-e-vírgula\\barra\n" + "ç" * 300
    source = row(
        title=title,
        description=description,
        categories=["rock, indie", "música; ao vivo", "日本"],
        performers=["Ana; Bia", "Zé, o Grande"],
    )
    body = render_calendar([source], venues=VENUES, name="Sala «Ribeira», Porto; 2º")
    calendar, events = parse(body)
    (event,) = events.values()
    assert unescape(calendar["X-WR-CALNAME"]) == "Sala «Ribeira», Porto; 2º"
    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]) == description
    assert [str(name) for name in event.categories] == source["categories"]
    performers = event["X-PERFORMER"]
    assert isinstance(performers, list)
    assert [unescape(value) for value in performers] == source["performers"]
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)  # folded by the library, in octets
    assert any(line.startswith(b" ") for line in lines)


def test_control_characters_are_dropped() -> None:
    source = row(title="Bell\x07 and\r\nbreak\x00", url="https://x.example/a\nb", image_url=None)
    event = one([source])
    assert str(event["SUMMARY"]) == "Bell and\nbreak"
    assert str(event["URL"]) == "https://tickets.example/jazz"  # the broken URL is left out


def test_vtimezones_cover_every_event_even_far_ahead() -> None:
    rows = [row("soon"), row("later", start_at=datetime(2061, 5, 1, 18, tzinfo=UTC), end_at=None)]
    calendar, events = parse(render_calendar(rows))
    (zone,) = calendar.timezones
    tz = zone.to_tz(lookup_tzid=False)
    later = moment(events["later@fake.marquee"].start)
    assert later.replace(tzinfo=None).replace(tzinfo=tz) == rows[1]["start_at"]
    assert later.utcoffset() == timedelta(hours=1)  # summer time in 2061
