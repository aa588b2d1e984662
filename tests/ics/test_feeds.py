"""The iCalendar feeds, served by a real base reading a fake plugin (real server, real SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar, Event

from base_service.ics import event_uid
from tests.support.base import all_events, base_settings, run_now, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin
from tests.support.servers import serve_app

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
CALENDAR = "text/calendar; charset=utf-8"


def event(event_id: str, start: datetime, hours: float = 2, **fields: Any) -> dict[str, Any]:
    """A contract event in the hall (Lisbon) unless told otherwise."""
    values: dict[str, Any] = {
        "id": event_id,
        "venue_id": "hall",
        "title": f"Show {event_id}",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "timezone": "Europe/Lisbon",
        "status": "scheduled",
    }
    values.update(fields)
    return values


EVENTS = [
    event("long-gone", NOW - timedelta(days=4)),
    event("ended-recently", NOW - timedelta(hours=14)),
    *(event(f"soon-{n}", NOW + timedelta(days=n, hours=3)) for n in range(1, 5)),
    event("cancelled", NOW + timedelta(days=5), status="cancelled"),
    event("postponed", NOW + timedelta(days=6), status="postponed"),
    event("club-night", NOW + timedelta(days=7), venue_id="club", timezone="America/New_York"),
]
IN_DEFAULT_WINDOW = [e["id"] for e in EVENTS if e["id"] != "long-gone"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    plugin = FakePlugin(events=EVENTS, page_size=50)
    plugin.venues.append(
        {
            "id": "club",
            "name": "The Club",
            "timezone": "America/New_York",
            "address": "1 Bowery, New York",
        }
    )
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('feeds') / 'marquee.db'}"
    with serve_app(plugin.app()) as url, running_base(base_settings(database, f"fake={url}")) as c:
        wait_for_run(c, "fake")
        yield c


def calendar(response: httpx.Response) -> tuple[Calendar, dict[str, Event]]:
    assert response.status_code == 200, response.text
    parsed = Calendar.from_ical(response.content)
    return parsed, {str(e["UID"]): e for e in parsed.events}


def uids(*event_ids: str) -> set[str]:
    return {event_uid("fake", event_id) for event_id in event_ids}


def test_the_feed_holds_the_same_events_as_the_listing(client: httpx.Client) -> None:
    response = client.get("/v1/events.ics")
    assert response.headers["content-type"] == CALENDAR
    assert response.headers["content-disposition"] == 'inline; filename="marquee-events.ics"'
    assert response.headers["cache-control"] == "max-age=300"
    assert response.headers["etag"].startswith('"')
    assert "x-marquee-truncated" not in response.headers
    parsed, events = calendar(response)
    assert str(parsed["X-WR-CALNAME"]) == "Marquee events"
    listed = all_events(client, **{"from": (NOW - timedelta(days=1)).isoformat()})
    assert [e["id"] for e in listed] == IN_DEFAULT_WINDOW
    assert set(events) == uids(*IN_DEFAULT_WINDOW)
    for item in listed:
        ev = events[event_uid("fake", item["id"])]
        assert ev.start == datetime.fromisoformat(item["start"])
        assert ev.end == datetime.fromisoformat(item["end"])
        assert ev["DTSTART"].params["TZID"] == item["timezone"]
        assert str(ev["SUMMARY"]) == item["title"]
    assert str(events[event_uid("fake", "cancelled")]["STATUS"]) == "CANCELLED"
    assert str(events[event_uid("fake", "postponed")]["STATUS"]) == "TENTATIVE"
    assert str(events[event_uid("fake", "soon-1")]["STATUS"]) == "CONFIRMED"
    assert str(events[event_uid("fake", "soon-1")]["LOCATION"]) == "The Hall"
    assert {zone.tz_name for zone in parsed.timezones} == {"Europe/Lisbon", "America/New_York"}


def test_filters_are_the_listings(client: httpx.Client) -> None:
    _, cancelled = calendar(client.get("/v1/events.ics", params={"status": "cancelled"}))
    assert set(cancelled) == uids("cancelled")
    assert str(cancelled[event_uid("fake", "cancelled")]["STATUS"]) == "CANCELLED"
    _, club = calendar(client.get("/v1/events.ics", params={"venue_id": "club"}))
    assert set(club) == uids("club-night")
    _, both = calendar(
        client.get("/v1/events.ics", params={"status": ["cancelled", "postponed"], "q": "show"})
    )
    assert set(both) == uids("cancelled", "postponed")
    parsed, none = calendar(client.get("/v1/events.ics", params={"plugin_id": "other"}))
    assert none == {} and str(parsed["PRODID"]) == "-//Marquee//Marquee events//EN"
    pinned, _ = calendar(
        client.get("/v1/events.ics", params={"plugin_id": "fake", "venue_id": "club"})
    )
    assert str(pinned["X-WR-CALNAME"]) == "The Club"


def test_the_venue_feed(client: httpx.Client) -> None:
    response = client.get("/v1/venues/fake/club/events.ics")
    assert response.headers["content-type"] == CALENDAR
    assert response.headers["content-disposition"] == 'inline; filename="fake-club.ics"'
    parsed, events = calendar(response)
    assert str(parsed["X-WR-CALNAME"]) == "The Club"
    assert set(events) == uids("club-night")
    (club_night,) = events.values()
    assert str(club_night["LOCATION"]) == "The Club, 1 Bowery, New York"
    assert club_night["DTSTART"].params["TZID"] == "America/New_York"
    assert [zone.tz_name for zone in parsed.timezones] == ["America/New_York"]
    _, hall = calendar(
        client.get("/v1/venues/fake/hall/events.ics", params={"status": "cancelled"})
    )
    assert set(hall) == uids("cancelled")


@pytest.mark.parametrize(
    "path", ["/v1/venues/fake/nope/events.ics", "/v1/venues/nobody/hall/events.ics"]
)
def test_an_unknown_venue_is_a_404_problem(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "no venue" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/events.ics", "/v1/venues/fake/hall/events.ics"])
@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "after"),
        ({"status": "maybe"}, "status"),
    ],
)
def test_bad_queries_are_400_problems(
    client: httpx.Client, path: str, query: dict[str, str], mentions: str
) -> None:
    response = client.get(path, params=query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert mentions in response.json()["detail"]


def test_the_default_window_starts_a_day_ago(client: httpx.Client) -> None:
    _, default = calendar(client.get("/v1/events.ics"))
    assert event_uid("fake", "long-gone") not in default
    assert event_uid("fake", "ended-recently") in default
    # Either bound given: no default start.
    week_ago = (NOW - timedelta(days=7)).isoformat()
    _, since = calendar(client.get("/v1/events.ics", params={"from": week_ago}))
    assert set(since) == uids(*(e["id"] for e in EVENTS))
    until = (NOW + timedelta(days=1)).isoformat()
    _, before = calendar(client.get("/v1/events.ics", params={"to": until}))
    assert set(before) == uids("long-gone", "ended-recently")


def test_a_bounded_feed_says_it_was_truncated(client: httpx.Client) -> None:
    response = client.get("/v1/events.ics", params={"limit": 2})
    assert response.headers["x-marquee-truncated"] == "true"
    _, events = calendar(response)
    assert set(events) == uids(*IN_DEFAULT_WINDOW[:2])  # the first by start
    exact = client.get("/v1/events.ics", params={"limit": len(IN_DEFAULT_WINDOW)})
    assert "x-marquee-truncated" not in exact.headers
    assert len(calendar(exact)[1]) == len(IN_DEFAULT_WINDOW)


def test_etag_and_not_modified(client: httpx.Client) -> None:
    first = client.get("/v1/events.ics")
    etag = first.headers["etag"]
    assert client.get("/v1/events.ics").content == first.content  # same data, same bytes
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get("/v1/events.ics", headers={"If-None-Match": given})
        assert again.status_code == 304, given
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "max-age=300"
    stale = client.get("/v1/events.ics", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content
    venue = client.get("/v1/venues/fake/club/events.ics")
    assert venue.headers["etag"] != etag
    revalidated = client.get(
        "/v1/venues/fake/club/events.ics", headers={"If-None-Match": venue.headers["etag"]}
    )
    assert revalidated.status_code == 304


def test_the_etag_moves_only_when_an_event_does(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [event("a", NOW + timedelta(days=1)), event("b", NOW + timedelta(days=2))]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        etag = client.get("/v1/events.ics").headers["etag"]
        run_now(client, "fake")  # nothing changed: the same document
        assert client.get("/v1/events.ics", headers={"If-None-Match": etag}).status_code == 304
        plugin.events[1] = {**plugin.events[1], "status": "cancelled"}
        run_now(client, "fake")
        response = client.get("/v1/events.ics", headers={"If-None-Match": etag})
        assert response.status_code == 200 and response.headers["etag"] != etag
        _, events = calendar(response)
        assert str(events[event_uid("fake", "b")]["STATUS"]) == "CANCELLED"


def test_head_answers_like_get_without_a_body(client: httpx.Client) -> None:
    for path in ("/v1/events.ics", "/v1/venues/fake/club/events.ics", "/v1/events", "/healthz"):
        got, head = client.get(path), client.head(path)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b""
        for name in ("content-type", "content-length", "etag"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    assert client.head("/v1/nowhere").status_code == 404
    assert client.head("/v1/plugins/fake/runs").status_code == 200  # GET there, POST too
