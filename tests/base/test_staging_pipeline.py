"""A run stages page k while it fetches page k+1: what that must never change.

The poller runs against a real fake plugin on a loopback port and a real database (SQLite
and PostgreSQL); a slow database is stood in for by slowing `ingest.stage_events`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from base_service.client import HttpClients
from base_service.config import PluginConfig, Settings
from base_service.poller import Poller
from base_service.store import ingest, leases, state
from base_service.store.database import create_engine, migrate
from base_service.store.tables import events, staged_events
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.servers import serve_app

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def plugin() -> Iterator[tuple[FakePlugin, str]]:
    fake = FakePlugin(events=[make_event(n) for n in range(4)], page_size=2)
    with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def _run_once(engine: AsyncEngine, url: str, **settings: Any) -> Any:
    config = Settings(database_url="sqlite+aiosqlite://", **settings)
    await state.register_plugins(engine, [("fake", url, NOW)], NOW)
    poller = Poller(engine, HttpClients(config), config, lambda: NOW)
    claim = await leases.claim(engine, "fake", "test", NOW, 30)
    assert claim is not None
    plugin = PluginConfig(
        plugin_id="fake", url=url, interval_override=None, read_timeout=5.0, token=None
    )
    return await poller.run(plugin, claim)


async def _staged(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(staged_events))).scalar())


async def test_a_run_that_ends_while_a_page_is_being_staged_leaves_nothing_staged(
    engine: AsyncEngine, plugin: tuple[FakePlugin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = plugin

    def second_page_breaks_the_contract(request: Request) -> Response | None:
        if request.query_params.get("cursor"):
            return JSONResponse({"events": [], "next_cursor": None, "mode": "changes"})
        return None

    fake.faults["/v1/events"] = second_page_breaks_the_contract

    staging: list[asyncio.Task[Any] | None] = []

    async def stuck_database(*_: Any) -> None:  # staging page 1 never finishes by itself
        staging.append(asyncio.current_task())
        await asyncio.Event().wait()

    monkeypatch.setattr(ingest, "stage_events", stuck_database)
    report = await _run_once(engine, url, run_timeout_seconds=0.5)

    assert report.outcome == "failed"
    # Nothing of the run is left running to write a page after its staging was discarded.
    assert staging and all(task is not None and task.done() for task in staging), staging
    assert await _staged(engine) == 0


async def test_pages_are_applied_in_the_order_they_came(
    engine: AsyncEngine, plugin: tuple[FakePlugin, str]
) -> None:
    fake, url = plugin
    # The same id on pages 1 and 2: the first one seen wins, the other is a duplicate.
    fake.events = [make_event(0, title="first"), make_event(1), make_event(0, title="second")]
    report = await _run_once(engine, url)
    assert report.outcome == "success"
    assert report.result.quarantined == 1
    async with engine.connect() as conn:
        title = (await conn.execute(select(events.c.title))).scalars().all()
    assert sorted(title) == ["Show 1", "first"]
    assert await _staged(engine) == 0


async def test_a_nul_in_a_utf16_page_is_quarantined_and_the_run_succeeds(
    engine: AsyncEngine, plugin: tuple[FakePlugin, str]
) -> None:
    fake, url = plugin
    body = json.dumps(
        {"events": [make_event(0), make_event(1, title="a\u0000b")], "next_cursor": None}
    ).encode("utf-16")
    fake.faults["/v1/events"] = lambda _: Response(body, media_type="application/json")
    report = await _run_once(engine, url, quarantine_max_ratio=1.0)
    assert (report.outcome, report.result.error) == ("success", None)
    assert (report.result.inserted, report.result.quarantined) == (1, 1)
