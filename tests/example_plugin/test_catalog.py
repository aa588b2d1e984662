"""catalog.py: the window follows the clock, reloads are shared, health never waits long."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from example_plugin_service.catalog import Catalog
from example_plugin_service.config import Settings
from example_plugin_service.generated.plugin_api import Status
from tests.example_plugin.icsbuild import calendar, venue, vevent

FEED_URL = "https://feeds.example/hall.ics"
WEEKLY = calendar(
    vevent("UID:weekly", "SUMMARY:Weekly", "DTSTART:20270107T200000Z", "RRULE:FREQ=WEEKLY")
)


def settings(**values: object) -> Settings:
    return Settings.model_validate({"plugin_token": None, **values})


async def test_window_follows_the_clock() -> None:
    answers = httpx.MockTransport(lambda request: httpx.Response(200, text=WEEKLY))
    async with httpx.AsyncClient(transport=answers) as client:
        catalog = Catalog(
            [venue(feed=FEED_URL)],
            settings(window_past_days=0, window_future_days=21),
            client,
            clock=lambda: datetime(2027, 2, 1, tzinfo=UTC),
        )
        listing = await catalog.page(limit=100)

    assert [e.start.date().isoformat() for e in listing.events] == [
        "2027-02-04",
        "2027-02-11",
        "2027-02-18",
    ]


async def test_concurrent_requests_share_one_reload() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, text=WEEKLY)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        catalog = Catalog([venue(feed=FEED_URL)], settings(), client)
        pages = await asyncio.gather(*(catalog.page(limit=5) for _ in range(10)))

    assert calls == 1
    assert all(p == pages[0] for p in pages)


async def test_health_answers_while_a_feed_hangs(tmp_path: Path) -> None:
    release = asyncio.Event()
    good = tmp_path / "good.ics"
    good.write_text(WEEKLY)

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, text=WEEKLY)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        catalog = Catalog(
            [venue("slow-hall", feed=FEED_URL), venue("quick-hall", feed=str(good))],
            settings(),
            client,
            health_wait=1.0,  # generous: the local feed must load within it even on a busy machine
        )
        early = await catalog.health()
        release.set()
        await catalog.refresh()
        later = await catalog.health()
        await catalog.aclose()

    assert early.status == Status.degraded
    assert early.detail is not None and "slow-hall: not loaded yet" in early.detail
    assert later.status == Status.ok
