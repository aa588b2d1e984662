"""sources.py: feeds read from files or HTTP, with a size cap and a time limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from example_plugin_service.sources import FeedFetchError, read_feed
from tests.example_plugin.icsbuild import venue

URL = "https://feeds.example/hall.ics"


async def test_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.ics"
    path.write_bytes(b"BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    async with httpx.AsyncClient() as client:
        data = await read_feed(venue(feed=str(path)), client, max_bytes=1000, timeout=5)

    assert data.startswith(b"BEGIN:VCALENDAR")


async def test_missing_or_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.ics"
    async with httpx.AsyncClient() as client:
        with pytest.raises(FeedFetchError, match="could not be read"):
            await read_feed(venue(feed=str(path)), client, max_bytes=10, timeout=5)
        path.write_bytes(b"x" * 11)
        with pytest.raises(FeedFetchError, match="larger than 10 bytes"):
            await read_feed(venue(feed=str(path)), client, max_bytes=10, timeout=5)


async def test_downloads_over_http() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"BEGIN:VCAL"))
    async with httpx.AsyncClient(transport=transport) as client:
        data = await read_feed(venue(feed=URL), client, max_bytes=100, timeout=5)

    assert data == b"BEGIN:VCAL"


async def test_http_error_status() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(FeedFetchError, match="answered HTTP 503"):
            await read_feed(venue(feed=URL), client, max_bytes=100, timeout=5)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_oversized_download_is_refused(declared: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=b"x" * 500)
        return httpx.Response(200, stream=httpx.ByteStream(b"x" * 500))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(FeedFetchError, match="larger than 100 bytes"):
            await read_feed(venue(feed=URL), client, max_bytes=100, timeout=5)


async def test_slow_download_times_out() -> None:
    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    transport = httpx.MockTransport(never_answers)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(FeedFetchError, match=r"did not answer within 0\.05 s"):
            await read_feed(venue(feed=URL), client, max_bytes=100, timeout=0.05)


async def test_connection_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(FeedFetchError, match="could not be fetched: ConnectError"):
            await read_feed(venue(feed=URL), client, max_bytes=100, timeout=5)
