"""Turning the text of an iCalendar feed into the contract's events for one venue and window."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
from icalendar import Calendar, Component, vBroken, vText
from icalendar import Event as IcsEvent
from icalendar.prop import vUnknown
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError

from example_plugin_service.generated.plugin_api import Event, EventStatus
from example_plugin_service.venues import VenueConfig

logger = logging.getLogger(__name__)

# Limits of the contract's Event schema; longer values are cut so every event validates.
# Ids are held well under the schema's 500 characters so a cursor naming one stays short.
MAX_ID_BYTES = 300
MAX_TITLE = 1000
MAX_DESCRIPTION = 20000
MAX_URL = 2000
MAX_TIMEZONE = 64
MAX_CATEGORY = 200
MAX_CATEGORIES = 100
MAX_PERFORMER = 500
MAX_PERFORMERS = 200

# A rule such as FREQ=MINUTELY would otherwise expand to hundreds of thousands of events.
MAX_OCCURRENCES_PER_SERIES = 10_000

UNTITLED = "Untitled event"

# Zones that say "UTC" rather than where an event is scheduled; the venue's zone says more.
_UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "etc/zulu"})

_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")

T = TypeVar("T")


class FeedError(ValueError):
    """The text is not an iCalendar feed at all, so none of its events can be read."""


@dataclass
class _Notes:
    """Warnings met while reading one feed, logged once each when the feed is done."""

    venue_id: str
    messages: dict[str, None] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        """Remember a warning; a series repeats the same problem in every occurrence."""
        self.messages.setdefault(message, None)

    def flush(self) -> None:
        """Log every distinct warning once."""
        for message in self.messages:
            logger.warning("Feed of venue %s: %s", self.venue_id, message)


def events_from_ics(
    ics: str | bytes,
    venue: VenueConfig,
    window_start: datetime,
    window_end: datetime,
) -> list[Event]:
    """Return the venue's events from the feed text that overlap [window_start, window_end)."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window bounds must be aware datetimes")
    notes = _Notes(venue.id)
    events: dict[str, Event] = {}
    try:
        for calendar in _parse_calendars(ics):
            for series in _series_of(calendar, notes):
                for event in _expand(series, venue, window_start, window_end, notes):
                    if event.id in events:
                        notes.warn(f"two events have the id {event.id!r}; keeping the first")
                        continue
                    events[event.id] = event
    finally:
        notes.flush()
    return list(events.values())


def _parse_calendars(ics: str | bytes) -> list[Component]:
    text = ics.decode("utf-8-sig", errors="replace") if isinstance(ics, bytes) else ics
    try:
        components = Calendar.from_ical(text, multiple=True)
    except Exception as error:  # the parser raises several kinds; all mean "not iCalendar"
        raise FeedError(f"not an iCalendar feed: {error}") from error
    calendars: list[Component] = [c for c in components if c.name == "VCALENDAR"]
    if not calendars:
        raise FeedError("not an iCalendar feed: no VCALENDAR found")
    return calendars


@dataclass
class _Series:
    """The VEVENTs of one UID (the master and its overrides) in a calendar of their own."""

    uid: str
    label: str
    calendar: Calendar


def _series_of(calendar: Component, notes: _Notes) -> Iterator[_Series]:
    """Group the calendar's VEVENTs by UID, so a malformed one only costs its own series."""
    shared: list[Component] = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    groups: dict[str, list[Component]] = {}
    for position, component in enumerate(calendar.subcomponents):
        if component.name != "VEVENT":
            continue
        label = _label(component, position)
        if component.errors:
            unreadable = ", ".join(
                f"{name or 'line'} ({reason})" for name, reason in component.errors
            )
            notes.warn(f"event {label}: unreadable values ignored: {unreadable}")
        uid = str(component.get("UID", "")).strip()
        if not uid:
            uid = _derived_uid(component)
            component["UID"] = vText(uid)
            # Each UID-less event stands alone; same-looking ones surface as duplicate ids.
            groups[f"{uid}#{position}"] = [component]
        else:
            groups.setdefault(uid, []).append(component)
    for members in groups.values():
        series_calendar = Calendar()
        if "X-WR-TIMEZONE" in calendar:
            series_calendar["X-WR-TIMEZONE"] = calendar["X-WR-TIMEZONE"]
        for component in (*shared, *members):
            series_calendar.add_component(component)
        uid = str(members[0].get("UID"))
        yield _Series(uid=uid, label=_label(members[0], None), calendar=series_calendar)


def _label(component: Component, position: int | None) -> str:
    uid = str(component.get("UID", "")).strip()
    summary = _text(component.get("SUMMARY")) or ""
    if uid:
        return f"{uid!r} ({summary!r})" if summary else repr(uid)
    where = f" #{position + 1} in the calendar" if position is not None else ""
    return f"{summary!r}{where}" if summary else f"without UID{where}"


def _derived_uid(component: Component) -> str:
    """A UID for an event that lacks one, stable as long as its summary and start stay."""
    start = component.get("DTSTART")
    start_text = ""
    if start is not None and not isinstance(start, vBroken):
        start_text = f"{start.params.get('TZID', '')}:{start.to_ical().decode()}"
    summary = _text(component.get("SUMMARY")) or ""
    digest = hashlib.sha256(f"{summary}\x1f{start_text}".encode()).hexdigest()[:24]
    return f"derived-{digest}"


def _expand(
    series: _Series,
    venue: VenueConfig,
    window_start: datetime,
    window_end: datetime,
    notes: _Notes,
) -> list[Event]:
    """The series' occurrences in the window as events; none if the series is malformed."""
    zone = venue.zone
    events: list[Event] = []
    if any(member.get("DTSTART") is None for member in series.calendar.walk("VEVENT")):
        notes.warn(f"skipping event {series.label}: it has no DTSTART")
        return []
    try:
        occurrences = recurring_ical_events.of(series.calendar).after(window_start.astimezone(zone))
        for count, occurrence in enumerate(occurrences):
            if not isinstance(occurrence, IcsEvent):
                raise TypeError(f"expected a VEVENT occurrence, got {occurrence.name}")
            start, end, all_day = _span(occurrence, zone)
            # Occurrences arrive in start order, so the first past the window ends the series.
            if start >= window_end:
                break
            if count >= MAX_OCCURRENCES_PER_SERIES:
                notes.warn(
                    f"event {series.label} has more than {MAX_OCCURRENCES_PER_SERIES} "
                    "occurrences in the window; the later ones are left out"
                )
                break
            if not (start >= window_start or (end is not None and end > window_start)):
                continue
            try:
                events.append(_to_event(occurrence, series.uid, venue, start, end, all_day, notes))
            except Exception as error:  # one bad occurrence must not hide the others
                notes.warn(f"skipping an occurrence of event {series.label}: {error}")
    except Exception as error:  # a malformed VEVENT is skipped, never fatal to the feed
        notes.warn(f"skipping event {series.label}: {type(error).__name__}: {error}")
        return []
    return events


def _span(occurrence: IcsEvent, zone: ZoneInfo) -> tuple[datetime, datetime | None, bool]:
    """Start, end (None when unknown) and all-day flag of one occurrence."""
    raw_start = _moment(occurrence, "DTSTART")
    raw_end = _moment(occurrence, "DTEND") if "DTEND" in occurrence else None
    if isinstance(raw_start, datetime):
        start = _aware(raw_start, zone)
        end = _instant(raw_end, zone) if raw_end is not None else None
        # The expansion gives an event without DTEND or DURATION a zero length: unknown end.
        if end is not None and end <= start:
            end = None
        return start, end, False
    if not isinstance(raw_start, date):
        raise ValueError(f"DTSTART is not a date or date-time: {raw_start!r}")
    start = _midnight(raw_start, zone)
    end = _instant(raw_end, zone) if raw_end is not None else None
    # DTEND of an all-day event is exclusive; without a usable one it lasts one day.
    if end is None or end <= start:
        end = _midnight(raw_start + timedelta(days=1), zone)
    return start, end, True


def _moment(component: Component, name: str) -> Any:
    """The date or date-time of a property the occurrence must have."""
    value = component.get(name)
    if value is None:
        raise ValueError(f"{name} is missing")
    return value.dt


def _aware(value: datetime, zone: tzinfo) -> datetime:
    """A floating time is read in the venue's time zone."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return _aware(value, zone)
    if isinstance(value, date):
        return _midnight(value, zone)
    raise ValueError(f"not a date or date-time: {value!r}")


def _to_event(
    occurrence: IcsEvent,
    uid: str,
    venue: VenueConfig,
    start: datetime,
    end: datetime | None,
    all_day: bool,
    notes: _Notes,
) -> Event:
    """Build the contract event of one occurrence."""
    zone_name = _zone_name(occurrence, venue)
    zone = ZoneInfo(zone_name)
    label = repr(uid)

    def optional(name: str, read: Callable[[], T | None]) -> T | None:
        """The value read, or None (with a warning) when the property cannot be read."""
        try:
            return read()
        except Exception as error:  # a bad optional value loses that value, not the event
            notes.warn(f"event {label}: ignoring {name}: {error}")
            return None

    title = _text(occurrence.get("SUMMARY")) or UNTITLED
    return Event.model_validate(
        {
            "id": _event_id(venue.id, uid, _moment(occurrence, "RECURRENCE-ID"), venue.zone),
            "venue_id": venue.id,
            "title": _clip(title, MAX_TITLE),
            "start": start.astimezone(zone),
            "end": end.astimezone(zone) if end is not None else None,
            "all_day": all_day,
            "timezone": zone_name,
            "status": _status(occurrence, notes, label),
            "url": optional("URL", lambda: _url(occurrence.get("URL"), "URL", notes, label)),
            "description": optional(
                "DESCRIPTION",
                lambda: _clip_or_none(_text(occurrence.get("DESCRIPTION")), MAX_DESCRIPTION),
            ),
            "image_url": optional("IMAGE", lambda: _image_url(occurrence, notes, label)),
            "ticket_url": optional(
                "X-TICKET-URL",
                lambda: _url(occurrence.get("X-TICKET-URL"), "X-TICKET-URL", notes, label),
            ),
            "categories": optional("CATEGORIES", lambda: _categories(occurrence)) or [],
            "performers": optional("X-PERFORMER", lambda: _performers(occurrence)) or [],
            "updated_at": optional("LAST-MODIFIED", lambda: _updated_at(occurrence, zone)),
        }
    )


def _event_id(venue_id: str, uid: str, original_start: Any, venue_zone: ZoneInfo) -> str:
    """venue/UID/original start: stable per occurrence, even when an override moves it."""
    if isinstance(original_start, datetime):
        stamp = _aware(original_start, venue_zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    elif isinstance(original_start, date):
        stamp = original_start.strftime("%Y%m%d")
    else:
        raise ValueError(f"RECURRENCE-ID is not a date or date-time: {original_start!r}")
    event_id = f"{venue_id}/{uid}/{stamp}"
    if len(event_id.encode()) > MAX_ID_BYTES:
        event_id = f"{venue_id}/{hashlib.sha256(uid.encode()).hexdigest()[:40]}/{stamp}"
    return event_id


def _zone_name(occurrence: IcsEvent, venue: VenueConfig) -> str:
    """The event's own IANA zone when its start names one, else the venue's."""
    start = occurrence.get("DTSTART")
    candidates = [str(start.params.get("TZID", ""))]
    start_zone = getattr(start.dt, "tzinfo", None)
    if isinstance(start_zone, ZoneInfo):
        candidates.append(start_zone.key)
    for name in candidates:
        if name and name.lower() not in _UTC_NAMES and _is_iana(name):
            return name
    return venue.timezone


@lru_cache(maxsize=512)
def _is_iana(name: str) -> bool:
    if len(name) > MAX_TIMEZONE:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _status(occurrence: Component, notes: _Notes, label: str) -> EventStatus:
    """X-MARQUEE-STATUS when it names a contract status, else STATUS:CANCELLED or scheduled."""
    extended = _text(occurrence.get("X-MARQUEE-STATUS"))
    if extended:
        try:
            return EventStatus(extended.lower())
        except ValueError:
            notes.warn(f"event {label}: ignoring unknown X-MARQUEE-STATUS {extended!r}")
    status = occurrence.get("STATUS")
    if status is not None and str(status).strip().upper() == "CANCELLED":
        return EventStatus.cancelled
    return EventStatus.scheduled


def _url(value: Any, name: str, notes: _Notes, label: str) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        url = str(_HTTP_URL.validate_python(text))
    except ValidationError:
        notes.warn(f"event {label}: ignoring {name}, not an http(s) URL: {text[:100]!r}")
        return None
    if len(url) > MAX_URL:
        notes.warn(f"event {label}: ignoring {name}, longer than {MAX_URL} characters")
        return None
    return url


def _image_url(occurrence: IcsEvent, notes: _Notes, label: str) -> str | None:
    """The first IMAGE given by URI, else the first ATTACH whose FMTTYPE is an image."""
    for image in occurrence.images:
        if image.uri:
            return _url(image.uri, "IMAGE", notes, label)
    for attachment in _all(occurrence.get("ATTACH")):
        params = getattr(attachment, "params", {})
        fmttype = str(params.get("FMTTYPE", "")).lower()
        inline = str(params.get("VALUE", "")).upper() == "BINARY" or "ENCODING" in params
        if fmttype.startswith("image/") and not inline:
            return _url(attachment, "ATTACH", notes, label)
    return None


def _categories(occurrence: IcsEvent) -> list[str]:
    names = (str(name) for name in occurrence.categories)
    return _unique_clipped(names, MAX_CATEGORY, MAX_CATEGORIES)


def _performers(occurrence: Component) -> list[str]:
    names = (_text(value) or "" for value in _all(occurrence.get("X-PERFORMER")))
    return _unique_clipped(names, MAX_PERFORMER, MAX_PERFORMERS)


def _updated_at(occurrence: Component, zone: ZoneInfo) -> datetime | None:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = occurrence.get(name)
        if value is None or isinstance(value, vBroken):
            continue
        moment = value.dt
        if isinstance(moment, datetime):
            return _aware(moment, zone)
    return None


def _all(value: Any) -> list[Any]:
    """A property given once or many times, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """A property's text, unescaped (icalendar leaves X- properties escaped), stripped."""
    if value is None or isinstance(value, list | vBroken):
        return None
    text = str(value)
    if isinstance(value, vUnknown):
        text = _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)
    return text.strip() or None


def _unique_clipped(values: Iterable[str], max_length: int, max_items: int) -> list[str]:
    result: dict[str, None] = {}
    for value in values:
        cleaned = _clip(value.strip(), max_length)
        if cleaned:
            result.setdefault(cleaned, None)
        if len(result) == max_items:
            break
    return list(result)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_or_none(text: str | None, limit: int) -> str | None:
    return _clip(text, limit) if text else None
