"""Scheduling seen from outside: catch-up after downtime, deferral, secrets kept secret."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from base_service.config import PluginConfig, Settings
from base_service.poller import Poller
from base_service.scheduler import Scheduler
from base_service.store import state
from base_service.store.database import Store, create_engine, migrate
from tests.support.base import (
    ADMIN_TOKEN,
    base_settings,
    plugin_view,
    run_now,
    running_base,
    wait_for_run,
)
from tests.support.fake_plugin import FakePlugin, fail_times, make_event

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _db_path(sqlite_url: str) -> str:
    return sqlite_url.removeprefix("sqlite+aiosqlite:///")


def test_downtime_longer_than_an_interval_gives_one_late_run(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    settings = base_settings(
        sqlite_url, f"fake={url}", plugin_overrides={"fake": {"interval_seconds": 3600}}
    )
    with running_base(settings) as client:
        first = wait_for_run(client, "fake")["last_run"]["run_id"]
    three_hours_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=3)
    with sqlite3.connect(_db_path(sqlite_url)) as conn:
        conn.execute("UPDATE plugins SET next_run_at = ?", (three_hours_ago.isoformat(" "),))
    with running_base(settings) as client:
        view = wait_for_run(client, "fake", after=first)
        runs = client.get("/v1/plugins/fake/runs").json()["items"]
    assert len(runs) == 2  # one catch-up run, not one per missed interval
    next_run = datetime.fromisoformat(view["next_run_at"])
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(hours=1)
    late = [r for r in caplog.records if getattr(r, "action", None) == "run_late"]
    assert len(late) == 1
    assert late[0].levelno == logging.WARNING and late[0].plugin_id == "fake"
    assert late[0].late_seconds > 3 * 3600 - 60


def test_next_poll_after_defers_the_next_run(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    asked = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0)
    original_page = plugin.page
    plugin.page = lambda cursor, limit: {  # type: ignore[method-assign]
        **original_page(cursor, limit),
        "next_poll_after": asked.isoformat(),
    }
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["state"] == "ok"
    assert datetime.fromisoformat(view["next_run_at"]) == asked


def test_a_long_retry_after_defers_without_waiting(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.faults["/v1/manifest"] = fail_times(1, 429, {"Retry-After": "7200"})
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["state"] == "rate_limited"
    assert view["last_run"]["error_kind"] == "rate_limited"
    wait = datetime.fromisoformat(view["next_run_at"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < wait <= timedelta(hours=2)
    assert len(plugin.requests) == 1  # not retried: the wait is longer than the cap


def test_tokens_never_appear_in_logs_errors_or_the_api(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    secret = "s3cret-plugin-token-value"
    settings = base_settings(
        sqlite_url,
        f"fake={url}",
        plugin_overrides={"fake": {"token": secret}},
        log_level="DEBUG",
    )
    caplog.set_level(logging.DEBUG)
    with running_base(settings) as client:
        wait_for_run(client, "fake")
        plugin.faults["/v1/manifest"] = fail_times(1, 401)
        run_now(client, "fake")
        answers = [
            client.get(path).text
            for path in ("/v1/plugins", "/v1/plugins/fake/runs", "/openapi.json", "/v1/events")
        ]
        assert plugin_view(client, "fake")["state"] == "failing"
    assert plugin.requests[0][2]["authorization"] == f"Bearer {secret}"
    for text in [caplog.text, *answers]:
        assert secret not in text
        assert ADMIN_TOKEN not in text


def test_data_turns_stale_after_failing_for_several_intervals(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    settings = base_settings(
        sqlite_url,
        f"fake={url}",
        plugin_overrides={"fake": {"interval_seconds": 60}},
        stale_after_intervals=2,
    )
    with running_base(settings) as client:
        wait_for_run(client, "fake")
        plugin.faults["/v1/manifest"] = fail_times(99, 500)
        run_now(client, "fake")
        fresh = client.get("/v1/events").json()["items"][0]["stale"]
        # The last success was three intervals ago, as far as the store knows.
        long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=3)
        with sqlite3.connect(_db_path(sqlite_url)) as conn:
            conn.execute("UPDATE plugins SET last_success_at = ?", (long_ago.isoformat(" "),))
        event = client.get("/v1/events").json()["items"][0]
        venue = client.get("/v1/venues").json()["items"][0]
        view = plugin_view(client, "fake")
    assert fresh is False
    assert event["stale"] and venue["stale"] and view["stale"]
    assert venue["last_success_at"].startswith(long_ago.isoformat()[:16])


def test_a_token_echoed_back_by_a_plugin_is_redacted(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi import Request, Response

    plugin, url = fake_plugin
    secret = "echoed-secret-token"

    def echo(request: Request) -> Response:
        said = request.headers.get("authorization", "")
        body = (
            f'{{"type": "urn:marquee:problem:misconfigured", "title": "bad {said}", '
            f'"detail": "you sent {said}", "status": 400}}'
        )
        return Response(body, status_code=400, media_type="application/problem+json")

    plugin.faults["/v1/manifest"] = echo
    settings = base_settings(
        sqlite_url, f"fake={url}", plugin_overrides={"fake": {"token": secret}}
    )
    caplog.set_level(logging.DEBUG)
    with running_base(settings) as client:
        view = wait_for_run(client, "fake")
        answers = [client.get(path).text for path in ("/v1/plugins", "/v1/plugins/fake/runs", "/")]
    assert view["last_run"]["error_kind"] == "misconfigured"
    assert "[redacted]" in view["last_error"]
    for text in [caplog.text, *answers]:
        assert secret not in text


def test_a_retry_sooner_than_the_next_poll_is_not_kept_waiting_for_it(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    """A run that ends wakes the loop when its next time comes before the loop's next look:
    a failed run's retry in a second starts then, not at the next read of the schedule."""
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    plugin.faults["/v1/manifest"] = fail_times(1, 400)
    settings = base_settings(
        sqlite_url, f"fake={url}", scheduler_poll_seconds=600, failure_backoff_seconds=1
    )
    with running_base(settings) as client:
        failed = wait_for_run(client, "fake")
        assert failed["last_run"]["outcome"] == "failed"
        retried = wait_for_run(client, "fake", after=failed["last_run"]["run_id"])
    assert retried["last_run"]["outcome"] == "success"


def test_a_run_asked_for_while_the_last_one_ends_is_taken(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a run's outcome shows (its lease is free), another may be asked for, even while
    the ended run's task is still winding down, and it then runs: a client that saw the run
    end is not told a run is in progress."""
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    asked = threading.Event()
    run, runs = Poller.run, 0

    async def run_then_linger(self: Poller, *arguments: Any) -> Any:
        nonlocal runs
        runs += 1
        report = await run(self, *arguments)
        if runs == 1:  # recorded and visible; the task ends only once a run is asked for
            await asyncio.to_thread(asked.wait, 10)
        return report

    monkeypatch.setattr(Poller, "run", run_then_linger)
    # No look at the schedule on the clock during the test: only the request may start a run.
    settings = base_settings(sqlite_url, f"fake={url}", scheduler_poll_seconds=3600)
    with running_base(settings) as client:
        first = wait_for_run(client, "fake")["last_run"]["run_id"]
        response = client.post(
            "/v1/plugins/fake/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        asked.set()
        assert response.status_code == 202, response.text
        second = wait_for_run(client, "fake", after=first)["last_run"]
    assert second["outcome"] == "success" and runs == 2


async def test_a_run_asked_for_while_the_schedule_is_read_is_not_lost(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that lands while the loop reads the schedule (a database read may take its
    time) wakes the loop again: the read may have been made before the request."""
    url = "http://127.0.0.1:9"  # never called: runs are stood in for below
    settings = Settings(
        database_url=sqlite_url, plugin_urls=f"p={url}/p q={url}/q", scheduler_poll_seconds=3600
    )
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await store.write(state.register_plugins, [("p", url, tomorrow), ("q", url, tomorrow)], NOW)
    ran: asyncio.Queue[str] = asyncio.Queue()

    class Runs:  # stands in for the poller: this test is about when the loop starts runs
        async def run(self, plugin: PluginConfig, claim: Any) -> Any:
            await ran.put(plugin.plugin_id)
            return SimpleNamespace(next_run_at=tomorrow)

    read, reading, gate, hold = Store.read, asyncio.Event(), asyncio.Event(), False

    async def held_read(self: Store, work: Any, *args: Any, **kwargs: Any) -> Any:
        result = await read(self, work, *args, **kwargs)
        if work is state.next_runs and hold:  # read, then held before it is handed back
            reading.set()
            await gate.wait()
        return result

    monkeypatch.setattr(Store, "read", held_read)
    clock = functools.partial(datetime.now, UTC)
    scheduler = Scheduler(settings.plugins(), Runs(), store, settings, clock, alone=True)  # type: ignore[arg-type]
    await scheduler.start()
    try:
        hold = True
        await scheduler.request_run("p")  # the loop reads the schedule, and is held there
        await asyncio.wait_for(reading.wait(), 10)
        hold = False
        await scheduler.request_run("q")  # asked for after that read was made
        gate.set()
        started = {await asyncio.wait_for(ran.get(), 10) for _ in range(2)}
    finally:
        await scheduler.stop(1)
        await store.dispose()
    assert started == {"p", "q"}
