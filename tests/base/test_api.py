"""The public API's answers to good and bad queries (real server, real SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.base import all_events, base_settings, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, make_event


@pytest.fixture
def client(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> Iterator[httpx.Client]:
    plugin, url = fake_plugin
    plugin.venues.append({"id": "club", "name": "The Club", "timezone": "America/New_York"})
    plugin.events = [make_event(n) for n in range(4)]
    plugin.events += [make_event(9, venue="club", timezone="America/New_York")]
    plugin.events += [make_event(5, status="cancelled")]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        yield client


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2030-01-01T00:00:00"}, "from: needs a UTC offset"),
        ({"from": "2030-01-01"}, "from: needs a time and a UTC offset"),
        ({"from": "2030-01-01T00:00:00 01:00"}, "send a '+' offset as %2B"),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "after"),
        ({"status": "maybe"}, "status (value 1): Input should be"),
        ({"status": ["cancelled", "maybe"]}, "status (value 2)"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),
        ({"from": "9999-12-31T23:59:59-14:00"}, "out of range"),
        ({"to": "0001-01-01T00:00:00+01:00"}, "out of range"),
        ({"from": "1700000000"}, "RFC 3339"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_queries_get_400_problems(
    client: httpx.Client, query: dict[str, str], mentions: str
) -> None:
    response = client.get("/v1/events", params=query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert mentions in problem["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/plugins/fake/runs?before=99999999999999999999",
        "/v1/plugins/fake/runs/0",
        "/v1/plugins/fake/runs/99999999999999999999",
    ],
)
def test_out_of_range_ids_get_400_problems(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_bad_path_parameter_is_named_like_a_query_parameter(client: httpx.Client) -> None:
    response = client.get("/v1/plugins/fake/runs/abc")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("run_id: Input should be a valid integer")


def test_unknown_paths_and_venues_are_404_problems(client: httpx.Client) -> None:
    for path in ("/nope", "/v1/venues/fake/nope", "/v1/venues/x/y/events", "/v1/plugins/x/runs"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_filters_and_venue_listing(client: httpx.Client) -> None:
    assert [e["id"] for e in all_events(client, venue_id="club")] == ["ev-9"]
    assert [e["id"] for e in all_events(client, status="cancelled")] == ["ev-5"]
    both = all_events(client, status=["cancelled", "scheduled"], plugin_id="fake")
    assert len(both) == 6
    assert all_events(client, plugin_id="other") == []
    window = all_events(client, **{"from": "2030-01-02T00:00:00Z", "to": "2030-01-04T00:00:00Z"})
    assert [e["id"] for e in window] == ["ev-1", "ev-2"]
    venues = client.get("/v1/venues").json()["items"]
    assert [(v["plugin_id"], v["id"]) for v in venues] == [("fake", "club"), ("fake", "hall")]
    club = client.get("/v1/venues/fake/club").json()
    assert club["timezone"] == "America/New_York"
    events = client.get("/v1/venues/fake/club/events").json()["items"]
    assert events[0]["start"] == "2030-01-10T15:00:00-05:00"  # shown in the event's own zone


def test_pagination_is_stable(client: httpx.Client) -> None:
    paged = all_events(client, limit=1)
    assert [e["id"] for e in paged] == [e["id"] for e in all_events(client, limit=500)]
    assert len(paged) == len({(e["plugin_id"], e["id"]) for e in paged}) == 6


def test_plugins_and_runs(client: httpx.Client) -> None:
    (plugin,) = client.get("/v1/plugins").json()["items"]
    assert plugin["plugin_id"] == "fake" and plugin["state"] == "ok"
    assert plugin["manifest"]["venue_count"] == 2
    assert plugin["next_run_at"] is not None
    runs = client.get("/v1/plugins/fake/runs").json()["items"]
    assert runs[0]["run_id"] == plugin["last_run"]["run_id"]
    assert client.get("/readyz").json() == {"status": "ok", "detail": None}


def test_a_cursor_continues_only_the_listing_it_came_from(client: httpx.Client) -> None:
    """A cursor is bound to its listing's filters: sent with others it is refused (it would
    skip what that listing holds before its key), not its page size; the same filters written
    otherwise (another offset for the same instant, statuses reordered) continue it."""
    query = {"from": "2030-01-02T00:00:00Z", "status": ["scheduled", "cancelled"], "limit": 2}
    first = client.get("/v1/events", params=query).json()
    cursor = first["next_cursor"]
    assert cursor is not None and [e["id"] for e in first["items"]] == ["ev-1", "ev-2"]

    same = {"from": "2030-01-02T01:00:00+01:00", "status": ["cancelled", "scheduled"]}
    rest = client.get("/v1/events", params={**same, "limit": 10, "cursor": cursor})
    assert rest.status_code == 200, rest.text
    assert [e["id"] for e in rest.json()["items"]] == ["ev-3", "ev-5", "ev-9"]

    for other in ({**query, "venue_id": "club"}, {**query, "from": "2030-01-01T00:00:00Z"}, {}):
        refused = client.get("/v1/events", params={**other, "cursor": cursor})
        assert refused.status_code == 400, other
        assert "other filters" in refused.json()["detail"]
    venue = client.get("/v1/venues/fake/club/events", params={"cursor": cursor})
    assert venue.status_code == 400 and "other filters" in venue.json()["detail"]
