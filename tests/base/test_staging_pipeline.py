"""A run stages each page behind its walk (page k while it fetches page k+2), and the last
page with the apply: what that must never change.

The poller runs against a real fake plugin on a loopback port and a real database (SQLite
and PostgreSQL); a slow database is stood in for by slowing the store's staging writes.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from base_service.client import HttpClients
from base_service.config import PluginConfig, Settings
from base_service.poller import Poller
from base_service.store import ingest, leases, state
from base_service.store.database import Store, create_engine, migrate
from base_service.store.tables import events, plugins, runs, staged_events
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.servers import serve_app

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def plugin() -> Iterator[tuple[FakePlugin, str]]:
    fake = FakePlugin(events=[make_event(n) for n in range(4)], page_size=2)
    with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    await migrate(engine)
    store = Store(engine)
    yield store
    await store.dispose()


async def _run_once(
    store: Store, url: str, clock: Callable[[], datetime] = lambda: NOW, **settings: Any
) -> Any:
    config = Settings(database_url="sqlite+aiosqlite://", **settings)
    await store.write(state.register_plugins, [("fake", url, NOW)], NOW)
    poller = Poller(store, HttpClients(config), config, clock)
    claim = await store.write(leases.claim, "fake", "test", NOW, 30)
    assert claim is not None
    plugin = PluginConfig(
        plugin_id="fake", url=url, interval_override=None, read_timeout=5.0, token=None
    )
    return await poller.run(plugin, claim)


def _count_staged(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(staged_events)).scalar_one())


async def _staged(store: Store) -> int:
    return await store.read(_count_staged)


async def test_a_run_that_ends_while_a_page_is_being_staged_leaves_nothing_staged(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = plugin
    fake.events = [make_event(n) for n in range(6)]  # three pages: 1 is staged, 2 held, 3 bad

    def third_page_breaks_the_contract(request: Request) -> Response | None:
        if request.query_params.get("cursor") == "4":
            return JSONResponse({"events": [], "next_cursor": None, "mode": "changes"})
        return None

    fake.faults["/v1/events"] = third_page_breaks_the_contract

    staging: list[asyncio.Task[Any] | None] = []

    write = Store.write

    async def stuck_database(self: Store, work: Any, *args: Any, **kwargs: Any) -> Any:
        if work is not ingest.stage_rows:
            return await write(self, work, *args, **kwargs)
        staging.append(asyncio.current_task())  # staging page 1 never finishes by itself
        await asyncio.Event().wait()

    monkeypatch.setattr(Store, "write", stuck_database)
    report = await _run_once(store, url, run_timeout_seconds=0.5)

    assert report.outcome == "failed"
    # Nothing of the run is left running to write a page after its staging was discarded.
    assert staging and all(task is not None and task.done() for task in staging), staging
    assert await _staged(store) == 0


async def test_pages_are_applied_in_the_order_they_came(
    store: Store, plugin: tuple[FakePlugin, str]
) -> None:
    fake, url = plugin
    # The same id on pages 1 and 2: the first one seen wins, the other is a duplicate.
    fake.events = [make_event(0, title="first"), make_event(1), make_event(0, title="second")]
    report = await _run_once(store, url)
    assert report.outcome == "success"
    assert report.result.quarantined == 1
    title = await store.read(lambda conn: conn.execute(select(events.c.title)).scalars().all())
    assert sorted(title) == ["Show 1", "first"]
    assert await _staged(store) == 0


async def test_a_nul_in_a_utf16_page_is_quarantined_and_the_run_succeeds(
    store: Store, plugin: tuple[FakePlugin, str]
) -> None:
    fake, url = plugin
    body = json.dumps(
        {"events": [make_event(0), make_event(1, title="a\u0000b")], "next_cursor": None}
    ).encode("utf-16")
    fake.faults["/v1/events"] = lambda _: Response(body, media_type="application/json")
    report = await _run_once(store, url, quarantine_max_ratio=1.0)
    assert (report.outcome, report.result.error) == ("success", None)
    assert (report.result.inserted, report.result.quarantined) == (1, 1)


async def test_a_run_whose_last_write_outlasts_the_deadline_is_recorded_as_it_ended(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline bounds the plugin's answers. Once every page is in, the apply and the run
    record are one write that ends whole (on SQLite a thread cannot be stopped midway), so
    the run is recorded as what it was, not as a timeout."""
    apply_run = ingest.apply_run
    deadline = 0.3

    def slow_apply(conn: Connection, **arguments: Any) -> Any:
        time.sleep(2 * deadline)  # a database that takes its time, past the run's deadline
        return apply_run(conn, **arguments)

    monkeypatch.setattr(ingest, "apply_run", slow_apply)
    report = await _run_once(store, plugin[1], run_timeout_seconds=deadline)
    assert (report.outcome, report.result.error) == ("success", None)
    assert report.result.inserted == 4
    assert await store.read(_count_events) == 4


def _count_events(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


async def test_a_timeout_of_the_database_is_not_taken_for_the_run_deadline(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver may raise a plain TimeoutError (asyncpg does, connecting): that is a fault of
    the base's, not a plugin that took too long."""

    def stalled_database(conn: Connection, **arguments: Any) -> Any:
        raise TimeoutError("the database did not answer")  # stands in for the driver

    monkeypatch.setattr(ingest, "apply_run", stalled_database)
    report = await _run_once(store, plugin[1])
    assert (report.outcome, report.result.error_kind) == ("failed", "internal_error")
    assert "the database did not answer" in (report.result.error or "")


async def test_the_last_page_is_staged_by_the_write_that_applies_the_run(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages before the last are written as they come; the last goes in with the apply, in
    its transaction: one write fewer a run, the only staging write of a one-page run."""
    fake, url = plugin
    fake.events = [make_event(n) for n in range(5)]  # pages of 2: three pages
    writes: list[Any] = []
    write = Store.write

    async def counted(self: Store, work: Any, *args: Any, **kwargs: Any) -> Any:
        writes.append(work)
        return await write(self, work, *args, **kwargs)

    monkeypatch.setattr(Store, "write", counted)
    report = await _run_once(store, url)
    assert (report.outcome, report.result.pages, report.result.inserted) == ("success", 3, 5)
    assert writes.count(ingest.stage_rows) == 2
    assert await store.read(_count_events) == 5
    assert await _staged(store) == 0


async def test_pages_are_rendered_outside_the_write_that_stages_them(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page's rows are rendered before its write is queued (in the walk's task), so the
    # store's one writer holds only the database work. Rendering may overlap another page's
    # write, so each rendering records whether its own call stack runs inside a write's work:
    # the stack, not a flag, answers that on SQLite's writer thread and asyncpg's greenlets.
    fake, url = plugin
    fake.events = [make_event(n) for n in range(5)]  # pages of 2: three pages
    inside_a_write: list[bool] = []
    render, write = ingest.event_row, Store.write

    def work_of_a_write(conn: Connection, work: Any, *args: Any, **kwargs: Any) -> Any:
        return work(conn, *args, **kwargs)

    def recorded_render(plugin_id: str, event: Any) -> dict[str, Any]:
        frames = (frame for frame, _ in traceback.walk_stack(None))
        inside_a_write.append(any(f.f_code is work_of_a_write.__code__ for f in frames))
        return render(plugin_id, event)

    async def wrapped(self: Store, work: Any, *args: Any, **kwargs: Any) -> Any:
        return await write(self, work_of_a_write, work, *args, **kwargs)

    monkeypatch.setattr(ingest, "event_row", recorded_render)
    monkeypatch.setattr(Store, "write", wrapped)
    report = await _run_once(store, url)
    assert (report.outcome, report.result.inserted) == ("success", 5)
    assert inside_a_write == [False] * 5


async def test_a_run_finishes_once_its_events_are_applied(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large run's apply takes seconds: the run's finish, and its plugin's last success
    (which freshness counts from), are read after it, not when the walk ended."""
    now = NOW
    apply = ingest.apply_run

    def slow_apply(conn: Connection, **arguments: Any) -> Any:
        nonlocal now
        counts = apply(conn, **arguments)
        now += timedelta(seconds=7)  # the clock moves while the run's events are applied
        return counts

    monkeypatch.setattr(ingest, "apply_run", slow_apply)
    report = await _run_once(store, plugin[1], clock=lambda: now)
    assert report.outcome == "success"

    def times(conn: Connection) -> tuple[Any, ...]:
        run = select(runs.c.started_at, runs.c.finished_at).where(runs.c.run_id == report.run_id)
        success = select(plugins.c.last_success_at).where(plugins.c.plugin_id == "fake")
        return (*conn.execute(run).one(), conn.execute(success).scalar_one())

    finished = NOW + timedelta(seconds=7)
    assert await store.read(times) == (NOW, finished, finished)


async def test_a_large_page_is_rendered_in_slices_between_which_the_loop_serves_others(
    store: Store, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendering a page's rows happens on the event loop; a page of 1,000 events is rendered
    a slice at a time, and another task (a listing, say) gets its turns in between."""
    fake, url = plugin
    fake.events, fake.page_size = [make_event(n) for n in range(1000)], 1000
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    turns_seen: list[int] = []
    render = ingest.event_row

    def recorded_render(plugin_id: str, event: Any) -> dict[str, Any]:
        turns_seen.append(turns)
        return render(plugin_id, event)

    monkeypatch.setattr(ingest, "event_row", recorded_render)
    other = asyncio.create_task(other_task())
    try:
        report = await _run_once(store, url, page_size=1000)
    finally:
        other.cancel()
    assert (report.outcome, report.result.inserted) == ("success", 1000)
    # The other task ran between slices: the renderings saw its count move at least 4 times.
    assert len(turns_seen) == 1000 and len(set(turns_seen)) >= 5
