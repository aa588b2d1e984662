"""Run the base service in-process on a loopback port, and wait on what it reports."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from base_service.api.app import create_app
from base_service.config import Settings
from tests.support.servers import serve_app

ADMIN_TOKEN = "admin-secret-token"


def base_settings(database_url: str, plugin_urls: str, **overrides: Any) -> Settings:
    """Settings for a test base service: fast retries, no first-run spread."""
    values: dict[str, Any] = {
        "plugin_urls": plugin_urls,
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "first_run_spread_seconds": 0,
        "retry_after_cap_seconds": 0.2,
        "read_timeout_seconds": 5,
        "run_timeout_seconds": 30,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def running_base(settings: Settings) -> Iterator[httpx.Client]:
    """Serve a base service; yield an HTTP client pointed at it."""
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll an observable condition until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def plugin_view(client: httpx.Client, plugin_id: str) -> dict[str, Any]:
    """The plugin's entry in GET /v1/plugins/{id}."""
    response = client.get(f"/v1/plugins/{plugin_id}")
    response.raise_for_status()
    view: dict[str, Any] = response.json()
    return view


def wait_for_run(client: httpx.Client, plugin_id: str, after: int = 0) -> dict[str, Any]:
    """Wait for a run newer than run id `after` to finish; return the plugin's view."""

    def finished() -> dict[str, Any] | None:
        view = plugin_view(client, plugin_id)
        run = view["last_run"]
        if run and run["run_id"] > after and run["outcome"] != "running" and not view["running"]:
            return view
        return None

    result: dict[str, Any] = wait_until(finished, what=f"a run of {plugin_id} after run {after}")
    return result


def run_now(client: httpx.Client, plugin_id: str) -> dict[str, Any]:
    """Trigger a run with the admin token and wait for it to finish."""
    before = plugin_view(client, plugin_id)["last_run"]
    after = before["run_id"] if before else 0
    response = client.post(
        f"/v1/plugins/{plugin_id}/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 202, response.text
    return wait_for_run(client, plugin_id, after)


def all_events(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every event the API lists, following cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/events", params=query)
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items
