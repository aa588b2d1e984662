"""Stored events as an iCalendar (RFC 5545) document: a pure function, no clock, no I/O.

It takes the rows `store.reads.list_events` returns rather than the public `EventOut` model:
a row carries `changed_at`, the time the event's content last changed, which makes a DTSTAMP
that moves only when the event does. `EventOut` has only `last_seen_at`, which every run
advances, so a feed built from it would change (and lose its ETag) every run with no news.
Rows also hold the instants in UTC, which is what a calendar needs to place them exactly.

The same rows and venues always give the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vText

from base_service.timezones import zone

PRODID = "-//Marquee//Marquee events//EN"
DEFAULT_CALENDAR_NAME = "Marquee events"
UID_DOMAIN = "marquee"

# An event id whose percent-encoded form is at most this long is kept readable in its UID;
# a longer one is replaced by its hash.
MAX_READABLE_ID = 100
HASHED_ID_PREFIX = "sha256."

_STATUS = {
    "scheduled": "CONFIRMED",
    "rescheduled": "CONFIRMED",
    "cancelled": "CANCELLED",
    "postponed": "TENTATIVE",
}
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Zulu"})
# iCalendar TEXT allows no control characters but HTAB; line breaks are escaped as \n.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NOT_URI = re.compile(r"[\x00-\x20\x7f]")


class Row(Protocol):
    """A stored row read by column name: a SQLAlchemy RowMapping, or a plain dict in tests."""

    def __getitem__(self, key: str, /) -> Any: ...


VenueKey = tuple[str, str]


def event_uid(plugin_id: str, event_id: str) -> str:
    """A UID for one event: stable across runs, distinct across plugins and event ids.

    The event id, percent-encoded, when that is short; else `sha256.` and its hash. An id whose
    encoded form itself starts with `sha256.` is hashed too, so two ids never share a UID.
    """
    local = quote(event_id, safe="")
    if len(local) > MAX_READABLE_ID or local.startswith(HASHED_ID_PREFIX):
        local = HASHED_ID_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()
    return f"{local}@{plugin_id}.{UID_DOMAIN}"


def render_calendar(
    rows: Iterable[Row],
    venues: Mapping[VenueKey, Row] | None = None,
    name: str | None = None,
) -> bytes:
    """The iCalendar document of these event rows, in the order given.

    `venues` maps (plugin_id, venue_id) to a venue row (`name`, `address`) for LOCATION; `name`
    is the calendar's display name ("Marquee events" when not given).
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    title = _text(name or "") or DEFAULT_CALENDAR_NAME
    calendar.add("name", vText(title))
    calendar.add("x-wr-calname", vText(title))
    years: list[int] = []
    for row in rows:
        event, span = _event(row, (venues or {}).get((row["plugin_id"], row["venue_id"])))
        calendar.add_component(event)
        years.extend(span)
    if years:
        # VTIMEZONE blocks covering every year an event touches, with a year to spare each side.
        first = date(max(min(years) - 1, 1), 1, 1)
        last = date(min(max(years) + 2, 9999), 1, 1)
        calendar.add_missing_timezones(first, last)
        # icalendar adds them in set order, which changes with each process's string hashing:
        # sorted, the same events give the same bytes (and ETag) on every replica and restart.
        zones = sorted(calendar.timezones, key=lambda block: str(block["TZID"]))
        rest = [block for block in calendar.subcomponents if block.name != "VTIMEZONE"]
        calendar.subcomponents[:] = [*zones, *rest]
    result: bytes = calendar.to_ical()
    return result


def _event(row: Row, venue: Row | None) -> tuple[Event, list[int]]:
    """One VEVENT, and the years it spans in its zone (for the VTIMEZONE it needs, if any)."""
    event = Event()
    event.add("uid", event_uid(row["plugin_id"], row["event_id"]))
    event.add("dtstamp", row["changed_at"].astimezone(UTC))
    zone = _zone(row["timezone"])
    start: datetime = row["start_at"]
    end: datetime | None = row["end_at"]
    if row["all_day"]:
        first_day, end_day = _days(start, end, zone or UTC)
        event.add("dtstart", first_day)
        event.add("dtend", end_day)
        span: list[int] = []
    else:
        event.add("dtstart", _moment(start, zone))
        if end is not None:
            event.add("dtend", _moment(end, zone))
        span = [start.year, (end or start).year] if zone is not None else []
    event.add("summary", vText(_text(row["title"])))
    if row["description"]:
        event.add("description", vText(_text(row["description"])))
    location = _location(venue)
    if location:
        event.add("location", vText(location))
    url = _uri(row["url"]) or _uri(row["ticket_url"])
    if url:
        event.add("url", url)
    categories = [_text(name) for name in row["categories"] or [] if _text(name).strip()]
    if categories:
        event.add("categories", categories)
    event.add("status", _STATUS.get(row["status"], "CONFIRMED"))
    if row["source_updated_at"] is not None:
        event.add("last-modified", row["source_updated_at"].astimezone(UTC))
    image = _uri(row["image_url"])
    if image:
        event.add("image", image, parameters={"VALUE": "URI", "DISPLAY": "BADGE"})
    # What RFC 5545 has no property for, in the extensions Marquee's example plugin reads back.
    event.add("x-marquee-status", vText(row["status"]))
    ticket_url = _uri(row["ticket_url"])
    if ticket_url:
        event.add("x-ticket-url", ticket_url)
    for performer in row["performers"] or []:
        if _text(performer).strip():
            event.add("x-performer", vText(_text(performer)))
    return event, span


def _zone(name: str | None) -> ZoneInfo | None:
    """The event's zone for TZID, or None when it has none we know (then times are UTC)."""
    if not name or name in _UTC_NAMES:
        return None
    return zone(name)


def _moment(instant: datetime, zone: ZoneInfo | None) -> datetime:
    """The instant as local time in its zone, or in UTC when local time cannot say it exactly.

    A wall time in the hour repeated when clocks go back names two instants; a calendar reads
    the first, so the second is written in UTC instead.
    """
    utc = instant.astimezone(UTC)
    if zone is None:
        return utc
    local = utc.astimezone(zone)
    if local.replace(fold=0).astimezone(UTC) != utc:
        return utc
    return local.replace(fold=0)


def _days(start: datetime, end: datetime | None, zone: tzinfo) -> tuple[date, date]:
    """The first day and the exclusive end day of an all-day event, in its own zone."""
    first = start.astimezone(zone).date()
    if end is None:
        return first, _next_day(first)
    local_end = end.astimezone(zone)
    last = local_end.date() if local_end.time() == time(0) else _next_day(local_end.date())
    return first, max(last, _next_day(first))


def _next_day(day: date) -> date:
    # Validation quarantines all-day events on 9999-12-31; one stored before still renders.
    return day if day == date.max else day + timedelta(days=1)


def _location(venue: Row | None) -> str | None:
    if venue is None:
        return None
    parts = [_text(venue["name"] or "").strip(), _text(venue["address"] or "").strip()]
    return ", ".join(part for part in parts if part) or None


def _text(value: str) -> str:
    """Text a calendar can carry: line breaks as \\n, no other control characters."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _uri(value: str | None) -> str | None:
    """A URI value, or None when there is none or it holds characters a URI cannot."""
    if not value or _NOT_URI.search(value):
        return None
    return value
