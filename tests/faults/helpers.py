"""What every fault test checks: the base keeps serving, keeps its data, and names the fault."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from base_service.config import Settings
from tests.support.base import (
    ADMIN_TOKEN,
    all_events,
    base_settings,
    plugin_view,
    running_base,
    wait_for_run,
    wait_until,
)
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.servers import serve_app

PID = "fake"  # the plugin under test, as the operator names it in PLUGIN_URLS
RESPONSIVE_SECONDS = 1.0

# Short timeouts and few retries, so a fault costs a second or two rather than minutes.
FAST: dict[str, Any] = {
    "retry_attempts": 3,
    "connect_timeout_seconds": 1,
    "read_timeout_seconds": 1,
    "run_timeout_seconds": 10,
    "shutdown_grace_seconds": 0,
}


def settings(database_url: str, plugin_url: str, **overrides: Any) -> Settings:
    """Settings for a base service with the plugin under test registered as PID."""
    return base_settings(database_url, f"{PID}={plugin_url}", **{**FAST, **overrides})


def good_run(client: httpx.Client, plugin_id: str = PID) -> list[dict[str, Any]]:
    """Wait for the first run to succeed; return every event it stored."""
    view = wait_for_run(client, plugin_id)
    assert view["state"] == "ok", view
    events = all_events(client)
    assert events, "the good run stored nothing"
    return events


@contextlib.contextmanager
def base_after_good_run(
    database_url: str, fault_url: str, **overrides: Any
) -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    """A base whose PID plugin had a good run, restarted with PID pointed at `fault_url`.

    For faults that live at another address than a healthy plugin (a closed port, a host that
    does not resolve). The stored next run is an hour away, so nothing runs until run-now.
    Yields the client and the events the good run stored.
    """
    plugin = FakePlugin(events=[make_event(n) for n in range(3)])
    with serve_app(plugin.app()) as url, running_base(settings(database_url, url)) as client:
        before = good_run(client)
    with running_base(settings(database_url, fault_url, **overrides)) as client:
        view = plugin_view(client, PID)
        assert view["state"] == "ok" and not view["running"]
        assert all_events(client) == before
        yield client, before


def request_run(client: httpx.Client, plugin_id: str = PID, *, force: bool = False) -> int:
    """Ask for a run now; return the id of the run before it (for `wait_for_run`)."""
    last = plugin_view(client, plugin_id)["last_run"]
    response = client.post(
        f"/v1/plugins/{plugin_id}/runs",
        params={"force": "true"} if force else None,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 202, response.text
    return int(last["run_id"]) if last else 0


def run_now(client: httpx.Client, plugin_id: str = PID, *, force: bool = False) -> dict[str, Any]:
    """Run the plugin now and wait for the run to end; return the plugin's view."""
    return wait_for_run(client, plugin_id, request_run(client, plugin_id, force=force))


def run_now_watching(client: httpx.Client, plugin_id: str = PID) -> dict[str, Any]:
    """Run a slow-failing plugin now; while its run is in flight check the API answers."""
    after = request_run(client, plugin_id)
    wait_until(lambda: plugin_view(client, plugin_id)["running"], what="the run to start")
    assert_responsive(client)
    assert plugin_view(client, plugin_id)["running"], "the run ended before the API was checked"
    return wait_for_run(client, plugin_id, after)


def timed_get(client: httpx.Client, path: str, **params: Any) -> tuple[httpx.Response, float]:
    """GET a path of the base; return the response and how long it took."""
    started = time.monotonic()
    response = client.get(path, params=params)
    return response, time.monotonic() - started


def assert_responsive(client: httpx.Client) -> None:
    """The base answers liveness and the events list, each within RESPONSIVE_SECONDS."""
    for path in ("/healthz", "/v1/events"):
        response, took = timed_get(client, path)
        assert response.status_code == 200, (path, response.text)
        assert took < RESPONSIVE_SECONDS, f"GET {path} took {took:.2f}s"
    assert client.get("/healthz").json()["status"] == "ok"


def fault_warnings(
    caplog: pytest.LogCaptureFixture, plugin_id: str = PID
) -> list[logging.LogRecord]:
    """Records at WARNING or above that carry this plugin's id (any thread's)."""
    return [
        record
        for record in list(caplog.records)
        if record.levelno >= logging.WARNING and record.__dict__.get("plugin_id") == plugin_id
    ]


def assert_fault(
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    view: dict[str, Any],
    *,
    kind: str,
    state: str = "failing",
    before: list[dict[str, Any]],
    plugin_id: str = PID,
) -> None:
    """The run failed naming `kind`, the plugin shows `state`, data and API are intact, and a
    warning carrying the plugin id and the kind was logged."""
    run = view["last_run"]
    assert (run["outcome"], run["error_kind"], view["state"]) == ("failed", kind, state), view
    assert view["last_error"], view
    assert view["consecutive_failures"] >= 1
    assert_responsive(client)
    assert all_events(client) == before
    kinds = [record.__dict__.get("error_kind") for record in fault_warnings(caplog, plugin_id)]
    assert kind in kinds, f"no warning naming {kind!r} for {plugin_id}: {kinds}"


def run_seconds(view: dict[str, Any]) -> float:
    """How long the plugin's last run took, from its record."""
    run = view["last_run"]
    started = datetime.fromisoformat(run["started_at"])
    finished = datetime.fromisoformat(run["finished_at"])
    return (finished - started).total_seconds()
