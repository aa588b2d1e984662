"""The /v1 API of the exec bridge, served by a real uvicorn server and read with httpx."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exec_bridge.app import create_app
from exec_bridge.config import Settings
from exec_bridge.generated.plugin_api import EventsPage, Health, Manifest, Problem, Status
from tests.exec_bridge.sources import (
    VENUES,
    ScriptedSource,
    event,
    manifest,
    sample_events,
    write_script,
)
from tests.support.servers import serve_app

PROBLEM_JSON = "application/problem+json"
TOKEN = "bridge-secret"


@pytest.fixture
def source(tmp_path: Path) -> ScriptedSource:
    scripted = ScriptedSource(tmp_path)
    scripted.serve(sample_events(23))
    return scripted


@contextlib.contextmanager
def bridge(source: ScriptedSource, **overrides: Any) -> Iterator[httpx.Client]:
    """Serve the bridge over `source`; yield a client pointed at it."""
    values: dict[str, Any] = {
        "exec_command": source.command,
        "cache_seconds": 300,
        "max_page_size": 50,
        "plugin_token": None,
        **overrides,
    }
    with (
        serve_app(create_app(Settings(**values))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def walk(client: httpx.Client, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of one walk, following next_cursor; each page checked against the contract."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        response = client.get(
            "/v1/events", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = EventsPage.model_validate(response.json())
        pages.append(response.json()["events"])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [e["id"] for page in pages for e in page]


def expected_order(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["id"] for e in sorted(events, key=lambda e: (datetime.fromisoformat(e["start"]), e["id"]))
    ]


def assert_problem(response: httpx.Response, status: int) -> Problem:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = Problem.model_validate(response.json())
    assert problem.status == status and problem.title and problem.detail
    return problem


def test_pagination_walks_every_event_once_in_order(source: ScriptedSource) -> None:
    events = sample_events(23)
    with bridge(source) as client:
        pages = walk(client, limit=5)
        everything = ids(walk(client, limit=500))
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert ids(pages) == everything == expected_order(events)


def test_limit_is_capped_by_max_page_size_which_the_manifest_states(
    source: ScriptedSource,
) -> None:
    with bridge(source, max_page_size=7) as client:
        manifest = Manifest.model_validate(client.get("/v1/manifest").json())
        pages = walk(client, limit=10000)
        default = client.get("/v1/events").json()
    assert manifest.max_page_size == 7
    assert [len(page) for page in pages] == [7, 7, 7, 2]
    assert len(default["events"]) == 7


def test_manifest_is_the_scripts_with_the_bridges_paging(source: ScriptedSource) -> None:
    source.serve(sample_events(2), capabilities=["incremental_sync", "something-new"])
    with bridge(source) as client:
        body = client.get("/v1/manifest").json()
    manifest = Manifest.model_validate(body)
    assert manifest.plugin_id == "test-source"
    assert [v.id for v in manifest.venues] == VENUES
    assert manifest.capabilities == ["something-new"]  # the bridge cannot sync incrementally
    assert manifest.max_page_size == 50
    assert None not in body.values()  # absent optional fields are left out, not null


def test_venue_filter(source: ScriptedSource) -> None:
    events = sample_events(23)
    with bridge(source) as client:
        pages = walk(client, venue_id="the-lantern", limit=3)
    lantern = [e for e in events if e["venue_id"] == "the-lantern"]
    assert ids(pages) == expected_order(lantern)


def test_from_and_to_select_overlapping_events(source: ScriptedSource) -> None:
    t0 = datetime(2031, 3, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    source.serve(
        [
            event("ended-before", t0 - 3 * hour, end=(t0 - hour).isoformat()),
            event("still-going", t0 - 3 * hour, end=(t0 + hour).isoformat()),
            event("no-end-before", t0 - hour),
            event("ends-at-from", t0 - hour, end=t0.isoformat()),
            event("inside", t0 + hour),
            event("starts-at-to", t0 + 5 * hour),
            event("after", t0 + 6 * hour),
        ]
    )
    with bridge(source) as client:
        window = ids(
            walk(
                client,
                limit=2,
                **{"from": "2031-03-01T12:00:00Z", "to": "2031-03-01T17:00:00+00:00"},
            )
        )
        since = ids(walk(client, **{"from": "2031-03-01T13:00:00+01:00"}))
        until = ids(walk(client, to="2031-03-01T11:00:00.000+00:00"))
    assert window == ["still-going", "ends-at-from", "inside"]
    assert since == ["still-going", "ends-at-from", "inside", "starts-at-to", "after"]
    assert until == ["ended-before", "still-going"]


@pytest.mark.parametrize(
    ("query", "status", "mentions"),
    [
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "W1td"}, 400, "cursor"),
        ({"from": "2031-03-01T12:00:00"}, 400, "`from`"),
        ({"to": "2031-03-01"}, 400, "`to`"),
        ({"from": "yesterday"}, 400, "`from`"),
        ({"from": "2031-13-01T00:00:00Z"}, 400, "`from`"),
        ({"limit": "0"}, 400, "limit"),
        ({"limit": "ten"}, 400, "limit"),
        ({"limit": "10001"}, 400, "limit"),
        ({"venue_id": "nowhere"}, 404, "nowhere"),
    ],
)
def test_bad_requests_are_problems(
    source: ScriptedSource, query: dict[str, str], status: int, mentions: str
) -> None:
    with bridge(source) as client:
        problem = assert_problem(client.get("/v1/events", params=query), status)
    assert mentions in (problem.detail or "")


def test_unknown_paths_and_methods_are_problems(source: ScriptedSource) -> None:
    with bridge(source) as client:
        assert_problem(client.get("/v1/nothing-here"), 404)
        assert_problem(client.get("/"), 404)
        response = client.post("/v1/events")
        assert_problem(response, 405)
        assert response.headers["allow"] == "GET"


def test_the_token_is_required_on_every_v1_path(source: ScriptedSource) -> None:
    with bridge(source, plugin_token=TOKEN) as client:
        for path in ("/v1/manifest", "/v1/health", "/v1/events", "/v1/nothing-here"):
            missing = client.get(path)
            assert_problem(missing, 401)
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = client.get(path, headers={"Authorization": "Bearer guess"})
            assert_problem(wrong, 401)
            assert "invalid_token" in wrong.headers["www-authenticate"]
        authorised = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/v1/events", headers=authorised).status_code == 200
        assert client.get("/v1/health", headers=authorised).json()["status"] == "ok"


def test_a_failed_refresh_keeps_serving_the_last_good_result(source: ScriptedSource) -> None:
    with bridge(source, cache_seconds=0) as client:
        before = ids(walk(client, limit=10))
        source.fail("upstream said: 502 Bad Gateway\n", status=4)
        after = ids(walk(client, limit=10))
        manifest = client.get("/v1/manifest")
        health = Health.model_validate(client.get("/v1/health").json())
        source.serve(sample_events(5))
        recovered = ids(walk(client))
        healed = Health.model_validate(client.get("/v1/health").json())
    assert after == before and len(before) == 23
    assert manifest.status_code == 200
    assert health.status == Status.degraded
    assert "exited 4" in (health.detail or "") and "502 Bad Gateway" in (health.detail or "")
    assert "23 events" in (health.detail or "")
    assert len(recovered) == 5 and healed.status == Status.ok


def test_503_with_retry_after_until_a_run_succeeds(source: ScriptedSource) -> None:
    source.fail("cannot reach the box office\n")
    with bridge(source) as client:
        for path in ("/v1/events", "/v1/manifest"):
            response = client.get(path)
            problem = assert_problem(response, 503)
            assert problem.type == "urn:marquee:problem:upstream-unavailable"
            assert "cannot reach the box office" in (problem.detail or "")
            assert int(response.headers["retry-after"]) > 0
        health = Health.model_validate(client.get("/v1/health").json())
        assert health.status == Status.down
        source.serve(sample_events(4))
        # With no good result, every request tries again, whatever CACHE_SECONDS says.
        assert len(ids(walk(client))) == 4


def test_results_are_reused_and_later_pages_never_run_the_command(
    source: ScriptedSource,
) -> None:
    with bridge(source) as client:
        for _ in range(3):
            walk(client, limit=4)
        client.get("/v1/manifest")
        assert source.runs() == 1  # the warm-up run at start-up served everything
    with bridge(source, cache_seconds=0) as client:
        first = client.get("/v1/events", params={"limit": 4}).json()
        runs = source.runs()
        cursor = first["next_cursor"]
        while cursor:
            cursor = client.get("/v1/events", params={"limit": 4, "cursor": cursor}).json()[
                "next_cursor"
            ]
        assert source.runs() == runs  # a walk's later pages use the result of its first


def test_health_is_ok_after_a_good_run(source: ScriptedSource) -> None:
    with bridge(source) as client:
        health = Health.model_validate(client.get("/v1/health").json())
    assert health.status == Status.ok
    assert "23 events" in (health.detail or "")


def test_the_command_inherits_the_environment_but_not_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUGIN_TOKEN", TOKEN)
    monkeypatch.setenv("TICKETS_API_KEY", "the-script-needs-this")
    output = {"manifest": manifest(), "events": [event("env", "2031-01-01T10:00:00Z")]}
    argv = write_script(
        tmp_path,
        f"""
        import json, os
        output = {output!r}
        output["events"][0]["title"] = (
            os.environ.get("TICKETS_API_KEY", "-") + " " + os.environ.get("PLUGIN_TOKEN", "-")
        )
        print(json.dumps(output))
        """,
    )
    settings = Settings(exec_command=shlex.join(argv), plugin_token=TOKEN)
    with (
        serve_app(create_app(settings)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        (only,) = client.get("/v1/events").json()["events"]
    assert only["title"] == "the-script-needs-this -"
