"""The bundled sample venues and feeds: valid, warning-free, and showing upcoming events today."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from example_plugin_service.app import create_app
from example_plugin_service.config import SAMPLE_VENUES_FILE, Settings
from example_plugin_service.feeds import events_from_ics
from example_plugin_service.generated.plugin_api import Event, EventsPage, EventStatus, Manifest
from example_plugin_service.venues import load_venues
from tests.support.servers import serve_app


def sample_events(caplog: pytest.LogCaptureFixture) -> list[Event]:
    now = datetime.now(UTC)
    events: list[Event] = []
    with caplog.at_level(logging.WARNING, logger="example_plugin_service"):
        for venue in load_venues(SAMPLE_VENUES_FILE):
            with open(venue.feed, "rb") as feed:
                found = events_from_ics(
                    feed.read(), venue, now - timedelta(days=1), now + timedelta(days=400)
                )
            assert any(e.start >= now for e in found), f"{venue.id} has no upcoming event"
            events.extend(found)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    return events


def test_samples_parse_without_warnings_and_show_every_kind_of_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = sample_events(caplog)
    upcoming = [e for e in events if e.start >= datetime.now(UTC)]

    assert any(e.status == EventStatus.cancelled for e in upcoming)
    assert any(e.all_day for e in upcoming)
    assert {e.timezone for e in upcoming} >= {"Europe/Lisbon", "America/New_York"}
    assert any(e.ticket_url for e in upcoming)
    assert any(e.performers for e in upcoming) and any(e.categories for e in upcoming)
    assert len({e.id for e in events}) == len(events)


def test_default_settings_serve_the_samples() -> None:
    settings = Settings(venues_file=SAMPLE_VENUES_FILE, plugin_token=None, max_page_size=100)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        manifest = Manifest.model_validate(client.get("/v1/manifest").json())
        assert {v.timezone for v in manifest.venues} == {"Europe/Lisbon", "America/New_York"}
        assert client.get("/v1/health").json()["status"] == "ok"

        events: list[Event] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            current = EventsPage.model_validate(client.get("/v1/events", params=params).json())
            events.extend(current.events)
            cursor = current.next_cursor
            if cursor is None:
                break
        assert len(events) > 100
        assert {e.venue_id for e in events} == {v.id for v in manifest.venues}
