"""The /v1 API, served by a real uvicorn server on a loopback port and read with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI, Response

from example_plugin_service.app import create_app
from example_plugin_service.config import Settings
from example_plugin_service.generated.plugin_api import (
    Event,
    EventsPage,
    Health,
    Manifest,
    Problem,
    Status,
)
from tests.example_plugin.icsbuild import LISBON_VTIMEZONE, calendar, vevent
from tests.support.servers import serve_app

PROBLEM_JSON = "application/problem+json"
PAGE_SIZE = 50


def ics_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def alpha_feed(today: date) -> str:
    """Lisbon: an open-ended weekly series that began weeks ago, and a yearly festival."""
    return calendar(
        LISBON_VTIMEZONE,
        vevent(
            "UID:jazz@alpha.example",
            "SUMMARY:Jazz Night",
            f"DTSTART;TZID=Europe/Lisbon:{ics_date(today - timedelta(days=21))}T200000",
            f"DTEND;TZID=Europe/Lisbon:{ics_date(today - timedelta(days=21))}T223000",
            "RRULE:FREQ=WEEKLY",
        ),
        vevent(
            "UID:festival@alpha.example",
            "SUMMARY:Festival",
            f"DTSTART;VALUE=DATE:{ics_date(today + timedelta(days=30))}",
            f"DTEND;VALUE=DATE:{ics_date(today + timedelta(days=33))}",
            "RRULE:FREQ=YEARLY",
        ),
    )


def beta_feed(today: date) -> str:
    """New York: a weekly series and a cancelled one-off."""
    return calendar(
        vevent(
            "UID:comedy@beta.example",
            "SUMMARY:Open Mic",
            f"DTSTART;TZID=America/New_York:{ics_date(today - timedelta(days=10))}T193000",
            "DURATION:PT2H",
            "RRULE:FREQ=WEEKLY",
        ),
        vevent(
            "UID:gala@beta.example",
            "SUMMARY:Gala",
            "STATUS:CANCELLED",
            f"DTSTART;TZID=America/New_York:{ics_date(today + timedelta(days=3))}T180000",
        ),
    )


def gamma_feed(today: date) -> str:
    """Five events at the very same instant: the order then rests on the ids alone."""
    start = f"DTSTART:{ics_date(today + timedelta(days=2))}T120000Z"
    return calendar(*(vevent(f"UID:{name}", f"SUMMARY:Tie {name}", start) for name in "edcba"))


def write_venues(folder: Path, venues: list[dict[str, Any]]) -> Path:
    path = folder / "venues.yaml"
    path.write_text(yaml.safe_dump(venues), encoding="utf-8")
    return path


def venue_entry(venue_id: str, timezone: str, feed: str) -> dict[str, Any]:
    return {"id": venue_id, "name": venue_id.title(), "timezone": timezone, "feed": feed}


@pytest.fixture
def venues_file(tmp_path: Path) -> Path:
    today = datetime.now(UTC).date()
    for name, text in [
        ("alpha", alpha_feed(today)),
        ("beta", beta_feed(today)),
        ("gamma", gamma_feed(today)),
    ]:
        (tmp_path / f"{name}.ics").write_text(text, encoding="utf-8")
    return write_venues(
        tmp_path,
        [
            venue_entry("alpha", "Europe/Lisbon", "alpha.ics"),
            venue_entry("beta", "America/New_York", "beta.ics"),
            venue_entry("gamma", "Europe/Lisbon", "gamma.ics"),
        ],
    )


def settings_for(venues_file: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "venues_file": venues_file,
        "max_page_size": PAGE_SIZE,
        "cache_seconds": 300,
        "plugin_token": None,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def client(venues_file: Path) -> Iterator[httpx.Client]:
    with serve_app(create_app(settings_for(venues_file))) as url, httpx.Client(base_url=url) as c:
        yield c


def page(client: httpx.Client, **params: Any) -> EventsPage:
    response = client.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return EventsPage.model_validate(response.json())


def walk(client: httpx.Client, limit: int, **filters: Any) -> list[Event]:
    """Every page of one listing, as the base service reads it."""
    events: list[Event] = []
    cursor: str | None = None
    for _ in range(10_000):
        params = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        current = page(client, **params)
        assert len(current.events) <= limit
        events.extend(current.events)
        cursor = current.next_cursor
        if cursor is None:
            return events
        assert current.events, "a page with a next cursor must hold events"
    raise AssertionError("the listing did not end")


def problem(response: httpx.Response, status: int) -> Problem:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = Problem.model_validate(response.json())
    assert body.status == status and body.title and body.detail
    return body


def order(event: Event) -> tuple[datetime, str]:
    return event.start.astimezone(UTC), event.id


def test_manifest(client: httpx.Client) -> None:
    response = client.get("/v1/manifest")

    manifest = Manifest.model_validate(response.json())
    assert response.status_code == 200
    assert manifest.plugin_id == "ics-feeds" and manifest.contract_version == "1.0"
    assert [v.id for v in manifest.venues] == ["alpha", "beta", "gamma"]
    assert [v.timezone for v in manifest.venues] == [
        "Europe/Lisbon",
        "America/New_York",
        "Europe/Lisbon",
    ]
    assert manifest.max_page_size == PAGE_SIZE
    assert manifest.refresh_interval_seconds == 21600
    assert manifest.capabilities == []


def test_health_ok(client: httpx.Client) -> None:
    health = Health.model_validate(client.get("/v1/health").json())

    assert health.status == Status.ok
    assert health.detail == "3 of 3 feeds readable"


def test_paging_with_small_limits_gives_every_event_once(client: httpx.Client) -> None:
    whole = walk(client, PAGE_SIZE)
    small = walk(client, 7)

    assert len(whole) > 100
    assert [e.id for e in small] == [e.id for e in whole]
    assert len({e.id for e in small}) == len(small)
    assert small == sorted(small, key=order)
    assert {e.venue_id for e in small} == {"alpha", "beta", "gamma"}
    assert any(e.all_day for e in small) and any(e.status == "cancelled" for e in small)


def test_limit_is_capped_at_max_page_size(client: httpx.Client) -> None:
    first = page(client, limit=10_000)

    assert len(first.events) == PAGE_SIZE and first.next_cursor is not None


def test_ties_on_start_are_ordered_by_id(client: httpx.Client) -> None:
    events = walk(client, 1, venue_id="gamma")

    assert [e.title for e in events] == ["Tie a", "Tie b", "Tie c", "Tie d", "Tie e"]


def test_venue_filter(client: httpx.Client) -> None:
    whole = walk(client, PAGE_SIZE)
    beta = walk(client, 5, venue_id="beta")

    assert beta == [e for e in whole if e.venue_id == "beta"]
    assert {e.timezone for e in beta} == {"America/New_York"}


def test_from_and_to_filters(client: httpx.Client) -> None:
    whole = walk(client, PAGE_SIZE)
    start_from, until = whole[10].start, whole[40].start

    window = walk(client, 9, **{"from": start_from.isoformat(), "to": until.isoformat()})

    expected = [e for e in whole if (e.end or e.start) >= start_from and e.start < until]
    assert window == expected
    assert whole[9] not in window and whole[40] not in window
    utc_from = start_from.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert walk(client, PAGE_SIZE, **{"from": utc_from}) == [
        e for e in whole if (e.end or e.start) >= start_from
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"cursor": "%%%"},
        {"from": "2027-01-01T00:00:00"},
        {"from": "2027-01-01"},
        {"to": "next tuesday"},
        {"limit": 0},
        {"limit": "many"},
    ],
)
def test_malformed_requests_are_400_problems(client: httpx.Client, params: dict[str, Any]) -> None:
    problem(client.get("/v1/events", params=params), 400)


def test_unknown_venue_and_path_are_404_problems(client: httpx.Client) -> None:
    assert "nowhere" in str(problem(client.get("/v1/events?venue_id=nowhere"), 404).detail)
    problem(client.get("/v1/nothing-here"), 404)
    problem(client.post("/v1/events"), 405)


def test_bearer_token_is_enforced(venues_file: Path) -> None:
    settings = settings_for(venues_file, plugin_token="s3cret-token")
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        for path in ("/v1/manifest", "/v1/health", "/v1/events", "/v1/unknown"):
            missing = client.get(path)
            problem(missing, 401)
            assert missing.headers["www-authenticate"].startswith("Bearer")
            problem(client.get(path, headers={"Authorization": "Bearer wrong"}), 401)
            problem(client.get(path, headers={"Authorization": "Basic s3cret-token"}), 401)

        good = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/v1/manifest", headers=good).status_code == 200
        assert client.get("/v1/health", headers=good).status_code == 200
        assert client.get("/v1/events", headers=good).status_code == 200


@dataclass
class FeedServer:
    """An upstream calendar server whose answer each test sets."""

    text: str
    status: int = 200
    requests: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/calendar.ics")
        def feed() -> Response:
            self.requests += 1
            if self.status != 200:
                return Response("upstream trouble", status_code=self.status)
            return Response(self.text, media_type="text/calendar")

        return app


@pytest.fixture
def upstream() -> Iterator[tuple[FeedServer, str]]:
    server = FeedServer(beta_feed(datetime.now(UTC).date()))
    with serve_app(server.app()) as url:
        yield server, f"{url}/calendar.ics"


def test_feed_over_http_keeps_last_good_copy_when_it_fails(
    tmp_path: Path, venues_file: Path, upstream: tuple[FeedServer, str]
) -> None:
    server, feed_url = upstream
    venues = yaml.safe_load(venues_file.read_text())
    venues_file = write_venues(tmp_path, [*venues, venue_entry("delta", "UTC", feed_url)])
    # With no caching, every request reads the feeds again.
    settings = settings_for(venues_file, cache_seconds=0)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        served = walk(client, PAGE_SIZE, venue_id="delta")
        assert served and server.requests >= 1

        server.status = 500
        requests_before = server.requests
        assert walk(client, PAGE_SIZE, venue_id="delta") == served
        assert len(walk(client, PAGE_SIZE)) > len(served)
        health = Health.model_validate(client.get("/v1/health").json())
        assert server.requests > requests_before
        assert health.status == Status.degraded
        assert health.detail is not None
        assert "3 of 4 feeds readable" in health.detail
        assert "delta" in health.detail and "HTTP 500" in health.detail

        server.status = 200
        assert Health.model_validate(client.get("/v1/health").json()).status == Status.ok


def test_feed_that_never_loaded_makes_listing_fail_with_502(
    tmp_path: Path, venues_file: Path, upstream: tuple[FeedServer, str]
) -> None:
    server, feed_url = upstream
    server.status = 503
    venues = yaml.safe_load(venues_file.read_text())
    venues_file = write_venues(tmp_path, [*venues, venue_entry("delta", "UTC", feed_url)])
    with serve_app(create_app(settings_for(venues_file))) as url, httpx.Client(base_url=url) as c:
        failure = problem(c.get("/v1/events"), 502)
        assert "delta" in str(failure.detail)
        assert failure.type == "urn:marquee:problem:upstream-unavailable"
        problem(c.get("/v1/events", params={"venue_id": "delta"}), 502)
        # Venues whose feeds did load can still be listed on their own.
        assert walk(c, PAGE_SIZE, venue_id="alpha")
        health = Health.model_validate(c.get("/v1/health").json())
        assert health.status == Status.degraded
        assert health.detail is not None and "delta" in health.detail

        server.status = 200
        assert walk(c, PAGE_SIZE, venue_id="delta")


def test_health_is_down_when_no_feed_can_be_read(tmp_path: Path) -> None:
    venues_file = write_venues(
        tmp_path,
        [
            venue_entry("alpha", "Europe/Lisbon", "missing.ics"),
            venue_entry("beta", "Europe/Lisbon", "also-missing.ics"),
        ],
    )
    with serve_app(create_app(settings_for(venues_file))) as url, httpx.Client(base_url=url) as c:
        response = c.get("/v1/health")
        health = Health.model_validate(response.json())

        assert response.status_code == 200
        assert health.status == Status.down
        assert health.detail is not None and health.detail.startswith("0 of 2 feeds readable")
        problem(c.get("/v1/events"), 502)


def test_cursor_stays_valid_when_the_feed_changes_between_pages(
    tmp_path: Path, upstream: tuple[FeedServer, str]
) -> None:
    server, feed_url = upstream
    venues_file = write_venues(tmp_path, [venue_entry("delta", "America/New_York", feed_url)])
    settings = settings_for(venues_file, cache_seconds=0)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        first = page(client, limit=3)
        assert first.next_cursor is not None
        # The upstream drops the cancelled gala and its weekly series moves an hour later.
        server.text = server.text.replace("T193000", "T203000").replace("STATUS:CANCELLED", "")
        rest = walk_from(client, first.next_cursor)

        last_seen = order(first.events[-1])
        assert rest and all(order(e) > last_seen for e in rest)
        assert len({e.id for e in rest}) == len(rest)


def walk_from(client: httpx.Client, cursor: str) -> list[Event]:
    events: list[Event] = []
    next_cursor: str | None = cursor
    while next_cursor is not None:
        current = page(client, limit=4, cursor=next_cursor)
        events.extend(current.events)
        next_cursor = current.next_cursor
    return events


def test_an_unchanged_walk_answers_304_to_its_etag(venues_file: Path) -> None:
    with serve_app(create_app(settings_for(venues_file))) as url, httpx.Client(base_url=url) as c:
        first = c.get("/v1/events", params={"limit": 2})
        tag = first.headers["ETag"]
        assert first.status_code == 200 and tag.startswith('"')
        again = c.get("/v1/events", params={"limit": 2}, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        other = c.get(
            "/v1/events", params={"limit": 2, "venue_id": "alpha"}, headers={"If-None-Match": tag}
        )
        assert other.status_code == 200  # another query, another tag
        assert c.get("/v1/events", params={"limit": 2}).headers["ETag"] == tag
