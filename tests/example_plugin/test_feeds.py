"""feeds.py: iCalendar text to contract events, with fixed instants and feeds built here."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from example_plugin_service.feeds import FeedError, events_from_ics
from example_plugin_service.generated.plugin_api import Event, EventStatus
from example_plugin_service.venues import VenueConfig
from tests.example_plugin.icsbuild import (
    CUSTOM_EASTERN_VTIMEZONE,
    LISBON_VTIMEZONE,
    calendar,
    venue,
    vevent,
)

LISBON = ZoneInfo("Europe/Lisbon")
NEW_YORK = ZoneInfo("America/New_York")
JAN = datetime(2027, 1, 1, tzinfo=UTC)
MAY = datetime(2027, 5, 1, tzinfo=UTC)

HALL = venue("harbour-hall", "Europe/Lisbon")
LANTERN = venue("the-lantern", "America/New_York")


def parse(
    ics: str, where: VenueConfig = HALL, start: datetime = JAN, end: datetime = MAY
) -> list[Event]:
    """The feed's events in start order, each checked against the contract."""
    events = events_from_ics(ics, where, start, end)
    for event in events:
        # Whatever the feed holds, the output must validate against the contract.
        Event.model_validate(event.model_dump(mode="json"))
    return sorted(events, key=lambda e: (e.start, e.id))


def by_title(events: list[Event], title: str) -> list[Event]:
    return [event for event in events if event.title == title]


WEEKLY = calendar(
    LISBON_VTIMEZONE,
    vevent(
        "UID:jazz@harbour-hall.example",
        "SUMMARY:Jazz Night",
        "DTSTART;TZID=Europe/Lisbon:20270107T210000",
        "DTEND;TZID=Europe/Lisbon:20270107T230000",
        "RRULE:FREQ=WEEKLY",
        "EXDATE;TZID=Europe/Lisbon:20270121T210000",
    ),
    vevent(
        "UID:jazz@harbour-hall.example",
        "RECURRENCE-ID;TZID=Europe/Lisbon:20270128T210000",
        "SUMMARY:Jazz Night (moved)",
        "DTSTART;TZID=Europe/Lisbon:20270129T220000",
        "DTEND;TZID=Europe/Lisbon:20270130T000000",
    ),
)


def test_weekly_series_with_exdate_and_moved_occurrence() -> None:
    events = parse(WEEKLY, HALL, JAN, datetime(2027, 2, 10, tzinfo=UTC))

    starts = [event.start.astimezone(LISBON).strftime("%a %d %H:%M") for event in events]
    assert starts == ["Thu 07 21:00", "Thu 14 21:00", "Fri 29 22:00", "Thu 04 21:00"]
    moved = by_title(events, "Jazz Night (moved)")[0]
    # The moved occurrence keeps the id of its original slot.
    assert moved.id == "harbour-hall/jazz@harbour-hall.example/20270128T210000Z"
    assert moved.end == datetime(2027, 1, 30, tzinfo=LISBON)
    assert all(event.timezone == "Europe/Lisbon" for event in events)


def test_event_ids_are_stable_between_parses_and_unique() -> None:
    first = parse(WEEKLY)
    second = parse(WEEKLY)

    assert [e.id for e in first] == [e.id for e in second]
    assert len({e.id for e in first}) == len(first) > 10
    assert first[0].id == "harbour-hall/jazz@harbour-hall.example/20270107T210000Z"
    same_feed_other_venue = events_from_ics(WEEKLY, LANTERN, JAN, MAY)
    assert not {e.id for e in first} & {e.id for e in same_feed_other_venue}


def test_weekly_event_keeps_local_time_across_dst_change() -> None:
    ics = calendar(
        vevent(
            "UID:weekly-lisbon",
            "SUMMARY:Weekly",
            "DTSTART;TZID=Europe/Lisbon:20270318T200000",
            "DTEND;TZID=Europe/Lisbon:20270318T220000",
            "RRULE:FREQ=WEEKLY",
        )
    )
    events = parse(ics, HALL, datetime(2027, 3, 15, tzinfo=UTC), datetime(2027, 4, 5, tzinfo=UTC))

    assert [e.start.isoformat() for e in events] == [
        "2027-03-18T20:00:00+00:00",
        "2027-03-25T20:00:00+00:00",
        "2027-04-01T20:00:00+01:00",
    ]
    assert [e.start.astimezone(UTC).hour for e in events] == [20, 20, 19]
    assert [e.id.rsplit("/", 1)[1] for e in events] == [
        "20270318T200000Z",
        "20270325T200000Z",
        "20270401T190000Z",
    ]


def test_all_day_events_span_local_midnights() -> None:
    ics = calendar(
        vevent(
            "UID:festival",
            "SUMMARY:Festival",
            "DTSTART;VALUE=DATE:20270612",
            "DTEND;VALUE=DATE:20270615",
            "RRULE:FREQ=YEARLY",
        ),
        vevent("UID:open-day", "SUMMARY:Open Day", "DTSTART;VALUE=DATE:20270110"),
    )
    events = parse(ics, HALL, JAN, datetime(2028, 1, 1, tzinfo=UTC))

    festival, open_day = by_title(events, "Festival")[0], by_title(events, "Open Day")[0]
    assert festival.all_day and open_day.all_day
    assert festival.start.isoformat() == "2027-06-12T00:00:00+01:00"
    assert festival.end is not None and festival.end.isoformat() == "2027-06-15T00:00:00+01:00"
    assert festival.id == "harbour-hall/festival/20270612"
    # No DTEND: the event lasts one day.
    assert open_day.start.isoformat() == "2027-01-10T00:00:00+00:00"
    assert open_day.end is not None and open_day.end.isoformat() == "2027-01-11T00:00:00+00:00"
    in_new_york = parse(ics, LANTERN, JAN, datetime(2028, 1, 1, tzinfo=UTC))
    assert by_title(in_new_york, "Open Day")[0].start.isoformat() == "2027-01-10T00:00:00-05:00"


def test_vtimezone_block_defines_a_custom_zone() -> None:
    ics = calendar(
        CUSTOM_EASTERN_VTIMEZONE,
        vevent(
            "UID:winter",
            "SUMMARY:Winter show",
            "DTSTART;TZID=Theatre District Time:20270115T193000",
            "DURATION:PT2H",
        ),
        vevent(
            "UID:summer",
            "SUMMARY:Summer show",
            "DTSTART;TZID=Theatre District Time:20270415T193000",
            "DURATION:PT2H",
        ),
    )
    winter, summer = parse(ics, LANTERN)

    assert winter.start.astimezone(UTC) == datetime(2027, 1, 16, 0, 30, tzinfo=UTC)
    assert summer.start.astimezone(UTC) == datetime(2027, 4, 15, 23, 30, tzinfo=UTC)
    assert winter.end is not None and winter.end - winter.start == timedelta(hours=2)
    # Not an IANA name, so the venue's zone is reported.
    assert winter.timezone == "America/New_York"


def test_event_zone_is_its_iana_tzid_utc_and_floating_use_the_venue() -> None:
    ics = calendar(
        vevent("UID:tzid", "SUMMARY:Guest", "DTSTART;TZID=America/New_York:20270110T190000"),
        vevent("UID:utc", "SUMMARY:Utc", "DTSTART:20270110T190000Z"),
        vevent("UID:floating", "SUMMARY:Floating", "DTSTART:20270110T190000"),
    )
    events = {e.title: e for e in parse(ics, HALL)}

    assert events["Guest"].timezone == "America/New_York"
    assert events["Guest"].start.isoformat() == "2027-01-10T19:00:00-05:00"
    assert events["Utc"].timezone == "Europe/Lisbon"
    assert events["Utc"].start.astimezone(UTC) == datetime(2027, 1, 10, 19, tzinfo=UTC)
    floating_in_ny = by_title(parse(ics, LANTERN), "Floating")[0]
    assert floating_in_ny.start.isoformat() == "2027-01-10T19:00:00-05:00"
    assert floating_in_ny.id == "the-lantern/floating/20270111T000000Z"
    # Without DTEND or DURATION the end is unknown.
    assert events["Floating"].end is None


def test_statuses() -> None:
    ics = calendar(
        vevent("UID:a", "SUMMARY:Cancelled", "STATUS:CANCELLED", "DTSTART:20270110T190000Z"),
        vevent("UID:b", "SUMMARY:Confirmed", "STATUS:CONFIRMED", "DTSTART:20270110T190000Z"),
        vevent("UID:c", "SUMMARY:Tentative", "STATUS:TENTATIVE", "DTSTART:20270110T190000Z"),
        vevent(
            "UID:d", "SUMMARY:Postponed", "X-MARQUEE-STATUS:postponed", "DTSTART:20270110T190000Z"
        ),
        vevent(
            "UID:e",
            "SUMMARY:Rescheduled",
            "X-MARQUEE-STATUS:RESCHEDULED",
            "DTSTART:20270110T190000Z",
        ),
    )
    statuses = {e.title: e.status for e in parse(ics)}

    assert statuses == {
        "Cancelled": EventStatus.cancelled,
        "Confirmed": EventStatus.scheduled,
        "Tentative": EventStatus.scheduled,
        "Postponed": EventStatus.postponed,
        "Rescheduled": EventStatus.rescheduled,
    }


def test_cancelled_series_and_cancelled_override() -> None:
    ics = calendar(
        vevent(
            "UID:movies",
            "SUMMARY:Movies",
            "STATUS:CANCELLED",
            "DTSTART;TZID=America/New_York:20270101T235900",
            "RRULE:FREQ=WEEKLY",
        ),
        vevent(
            "UID:fado", "SUMMARY:Fado", "DTSTART:20270102T193000", "RRULE:FREQ=MONTHLY;BYDAY=1SA"
        ),
        vevent(
            "UID:fado",
            "RECURRENCE-ID:20270206T193000",
            "STATUS:CANCELLED",
            "SUMMARY:Fado",
            "DTSTART:20270206T193000",
        ),
    )
    events = parse(ics, HALL, JAN, datetime(2027, 3, 10, tzinfo=UTC))

    assert {e.status for e in by_title(events, "Movies")} == {EventStatus.cancelled}
    fado = {e.start.date(): e.status for e in by_title(events, "Fado")}
    assert fado == {
        date(2027, 1, 2): EventStatus.scheduled,
        date(2027, 2, 6): EventStatus.cancelled,
        date(2027, 3, 6): EventStatus.scheduled,
    }


def test_descriptive_fields() -> None:
    ics = calendar(
        vevent(
            "UID:show",
            "SUMMARY:Show",
            "DTSTART:20270110T190000Z",
            "DTEND:20270110T210000Z",
            "DESCRIPTION:Line one\\, with a comma\\nLine two",
            "URL:https://venue.example/show",
            "CATEGORIES:music,jazz",
            "CATEGORIES:live",
            "X-PERFORMER:Smith\\, Jane",
            "X-PERFORMER:The Trio",
            "X-TICKET-URL:https://tickets.example/show?id=1",
            "IMAGE;VALUE=URI;FMTTYPE=image/jpeg:https://venue.example/show.jpg",
            "LAST-MODIFIED:20261120T091500Z",
        ),
        vevent(
            "UID:attach",
            "SUMMARY:Attach",
            "DTSTART:20270110T190000Z",
            "ATTACH;FMTTYPE=application/pdf:https://venue.example/programme.pdf",
            "ATTACH;FMTTYPE=image/png:https://venue.example/poster.png",
        ),
    )
    attach, show = parse(ics)  # same start: ordered by id

    assert show.description == "Line one, with a comma\nLine two"
    assert str(show.url) == "https://venue.example/show"
    assert show.categories == ["music", "jazz", "live"]
    assert show.performers == ["Smith, Jane", "The Trio"]
    assert str(show.ticket_url) == "https://tickets.example/show?id=1"
    assert str(show.image_url) == "https://venue.example/show.jpg"
    assert show.updated_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert str(attach.image_url) == "https://venue.example/poster.png"
    # Without LAST-MODIFIED, DTSTAMP says when the event last changed.
    assert attach.updated_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert attach.url is None and attach.categories == [] and attach.performers == []


def test_rdate_adds_occurrences() -> None:
    ics = calendar(
        vevent(
            "UID:readings",
            "SUMMARY:Readings",
            "DTSTART;TZID=America/New_York:20270110T150000",
            "RDATE;TZID=America/New_York:20270314T150000,20270509T150000",
        )
    )
    events = parse(ics, LANTERN, JAN, datetime(2027, 12, 31, tzinfo=UTC))

    assert [e.start.isoformat() for e in events] == [
        "2027-01-10T15:00:00-05:00",
        "2027-03-14T15:00:00-04:00",
        "2027-05-09T15:00:00-04:00",
    ]


def test_window_bounds() -> None:
    start, end = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)
    ics = calendar(
        vevent(
            "UID:1", "SUMMARY:ends-at-start", "DTSTART:20270131T220000Z", "DTEND:20270201T000000Z"
        ),
        vevent(
            "UID:2", "SUMMARY:spans-start", "DTSTART:20270131T230000Z", "DTEND:20270201T010000Z"
        ),
        vevent("UID:3", "SUMMARY:at-start-no-end", "DTSTART:20270201T000000Z"),
        vevent("UID:4", "SUMMARY:before-end", "DTSTART:20270228T235959Z"),
        vevent("UID:5", "SUMMARY:at-end", "DTSTART:20270301T000000Z", "DTEND:20270301T020000Z"),
        vevent("UID:6", "SUMMARY:long-ago", "DTSTART:20200101T000000Z"),
    )

    titles = [e.title for e in parse(ics, HALL, start, end)]

    assert titles == ["spans-start", "at-start-no-end", "before-end"]


def test_malformed_vevents_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    ics = calendar(
        vevent("UID:good", "SUMMARY:Good", "DTSTART:20270110T190000Z"),
        vevent("UID:bad-start", "SUMMARY:Bad start", "DTSTART:tomorrow evening"),
        vevent("UID:no-start", "SUMMARY:No start"),
        vevent("UID:bad-rule", "SUMMARY:Bad rule", "DTSTART:20270110T190000Z", "RRULE:FREQ=OFTEN"),
        vevent("UID:bad-url", "SUMMARY:Bad URL", "DTSTART:20270111T190000Z", "URL:not a url"),
    )
    with caplog.at_level(logging.WARNING, logger="example_plugin_service.feeds"):
        events = parse(ics)

    assert [e.title for e in events] == ["Good", "Bad URL"]
    assert events[1].url is None
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for uid in ("bad-start", "no-start", "bad-rule", "bad-url"):
        assert uid in warnings
    assert "harbour-hall" in warnings


def test_text_that_is_not_a_calendar_is_a_feed_error() -> None:
    with pytest.raises(FeedError):
        events_from_ics("<html>Not found</html>", HALL, JAN, MAY)
    with pytest.raises(FeedError):
        events_from_ics(vevent("UID:x", "DTSTART:20270110T190000Z"), HALL, JAN, MAY)


def test_window_must_be_aware() -> None:
    with pytest.raises(ValueError):
        events_from_ics(calendar(), HALL, datetime(2027, 1, 1), MAY)


def test_events_without_uid_get_a_stable_derived_id() -> None:
    ics = calendar(
        vevent("SUMMARY:Pop-up", "DTSTART:20270110T190000Z"),
        vevent("SUMMARY:Other", "DTSTART:20270110T190000Z"),
    )

    first, second = parse(ics), parse(ics)

    assert [e.id for e in first] == [e.id for e in second]
    assert len({e.id for e in first}) == 2
    assert all(e.id.startswith("harbour-hall/derived-") for e in first)


def test_duplicate_events_keep_one(caplog: pytest.LogCaptureFixture) -> None:
    twice = vevent("SUMMARY:Pop-up", "DTSTART:20270110T190000Z")

    with caplog.at_level(logging.WARNING, logger="example_plugin_service.feeds"):
        events = parse(calendar(twice, twice))

    assert len(events) == 1
    assert "keeping the first" in caplog.text


def test_overlong_values_are_cut_to_the_contract_limits() -> None:
    uid = "u" * 600
    categories = ",".join(f"c{n}-" + "x" * 300 for n in range(150))
    ics = calendar(
        vevent(
            f"UID:{uid}",
            "SUMMARY:" + "t" * 1500,
            "DESCRIPTION:" + "d" * 25000,
            "DTSTART:20270110T190000Z",
            f"CATEGORIES:{categories}",
            *(f"X-PERFORMER:p{n}-" + "y" * 600 for n in range(250)),
        )
    )

    (event,) = parse(ics)

    assert len(event.id) <= 500 and uid not in event.id
    assert event.id == parse(ics)[0].id
    assert len(event.title) == 1000 and event.title.endswith("…")
    assert event.description is not None and len(event.description) == 20000
    assert len(event.categories) == 100 and all(len(c) <= 200 for c in event.categories)
    assert len(event.performers) == 200 and all(len(p) <= 500 for p in event.performers)


def test_event_without_summary_gets_a_title() -> None:
    (event,) = parse(calendar(vevent("UID:x", "DTSTART:20270110T190000Z")))

    assert event.title == "Untitled event"
