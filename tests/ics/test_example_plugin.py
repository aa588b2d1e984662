"""The example plugin's samples, through a real base, out as a feed: same events as the JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar

import example_plugin_service.app
import example_plugin_service.config
from base_service.ics import event_uid
from tests.support.base import base_settings, running_base, wait_for_run
from tests.support.servers import serve_app

VENUE = "/v1/venues/ics/the-lantern"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[httpx.Client]:
    plugin = example_plugin_service.app.create_app(example_plugin_service.config.Settings())
    with serve_app(plugin) as url, running_base(base_settings(sqlite_url, f"ics={url}")) as base:
        view = wait_for_run(base, "ics")
        assert view["state"] == "ok", view
        yield base


def listed(client: httpx.Client, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every event of the venue's JSON listing, following cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page_params = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{VENUE}/events", params=page_params)
        page.raise_for_status()
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


def test_the_lantern_feed_matches_its_listing(client: httpx.Client) -> None:
    # One `from` for both, so the two answers cover the same window.
    params = {"from": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    response = client.get(f"{VENUE}/events.ics", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "x-marquee-truncated" not in response.headers
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "The Lantern Theatre"
    events = {str(event["UID"]): event for event in calendar.events}

    items = listed(client, params)
    assert items, "the sample feed has events in the coming year"
    assert len(events) == len(items)
    assert set(events) == {event_uid("ics", item["id"]) for item in items}
    statuses = set()
    for item in items:
        event = events[event_uid("ics", item["id"])]
        assert str(event["SUMMARY"]) == item["title"]
        start = datetime.fromisoformat(item["start"])
        end = datetime.fromisoformat(item["end"]) if item["end"] else None
        if item["all_day"]:
            # Local midnights in the JSON; dates, the end exclusive, in the feed.
            assert event.start == start.date() and not isinstance(event.start, datetime)
            assert end is not None and event.end == end.date()
            assert isinstance(event.end, date)
        else:
            assert event["DTSTART"].params["TZID"] == item["timezone"] == "America/New_York"
            assert event.start == start
            if end is None:
                assert "DTEND" not in event
            else:
                assert event.end == end
        expected = {"cancelled": "CANCELLED", "postponed": "TENTATIVE"}.get(
            item["status"], "CONFIRMED"
        )
        assert str(event["STATUS"]) == expected
        statuses.add(item["status"])
        assert str(event["URL"]) == (item["url"] or item["ticket_url"])
        assert [str(name) for name in event.categories] == item["categories"]
        assert str(event["LOCATION"]).startswith("The Lantern Theatre, 212 Bowery Lane")
    assert {"scheduled", "cancelled"} <= statuses  # the sample has cancelled screenings
    assert any(item["all_day"] for item in items)  # and an all-day block party
    assert [zone.tz_name for zone in calendar.timezones] == ["America/New_York"]
