"""Building small iCalendar documents and venues for the example plugin's tests."""

from __future__ import annotations

from pathlib import Path

from example_plugin_service.venues import VenueConfig, parse_venues

LISBON_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Lisbon
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:WEST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:WET
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

# A zone known only by its VTIMEZONE block: US Eastern rules under a made-up name.
CUSTOM_EASTERN_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Theatre District Time
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE"""


def vevent(*lines: str, dtstamp: bool = True) -> str:
    """A VEVENT with the given content lines (and a DTSTAMP, as RFC 5545 requires)."""
    stamp = ["DTSTAMP:20261101T000000Z"] if dtstamp else []
    return "\n".join(["BEGIN:VEVENT", *lines, *stamp, "END:VEVENT"])


def calendar(*components: str, header: str = "") -> str:
    """A VCALENDAR holding the given components."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Marquee tests//EN"]
    if header:
        head.append(header)
    return "\n".join([*head, *components, "END:VCALENDAR"]) + "\n"


def venue(
    venue_id: str = "harbour-hall", timezone: str = "Europe/Lisbon", feed: str = "feed.ics"
) -> VenueConfig:
    """A valid venue, its feed a file name (resolved against the current folder)."""
    entry = {"id": venue_id, "name": venue_id.replace("-", " ").title(), "timezone": timezone}
    return parse_venues([{**entry, "feed": feed}], base_dir=Path.cwd(), source="test")[0]
