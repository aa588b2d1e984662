"""Reading the raw bytes of a venue's feed, from a file or over HTTP, within a size cap."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from example_plugin_service.venues import VenueConfig

logger = logging.getLogger(__name__)

ACCEPT = "text/calendar, text/plain;q=0.5, */*;q=0.1"


class FeedFetchError(Exception):
    """The feed could not be read; the message says why, for the operator."""


async def read_feed(
    venue: VenueConfig, client: httpx.AsyncClient, *, max_bytes: int, timeout: float
) -> bytes:
    """Return the bytes of the venue's feed, failing if it takes longer than timeout seconds."""
    try:
        async with asyncio.timeout(timeout):
            if venue.feed_is_url:
                return await _download(venue.feed, client, max_bytes)
            return await asyncio.to_thread(_read_file, Path(venue.feed), max_bytes)
    except TimeoutError as error:
        raise FeedFetchError(f"{venue.feed} did not answer within {timeout:g} s") from error


async def _download(url: str, client: httpx.AsyncClient, max_bytes: int) -> bytes:
    try:
        async with client.stream("GET", url, headers={"Accept": ACCEPT}) as response:
            if response.status_code != httpx.codes.OK:
                raise FeedFetchError(f"{url} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedFetchError(f"{url} is larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                # The header may be absent or wrong, so the cap is enforced on what arrives.
                if size > max_bytes:
                    raise FeedFetchError(f"{url} is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as error:
        raise FeedFetchError(
            f"{url} could not be fetched: {type(error).__name__}: {error}"
        ) from error


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise FeedFetchError(f"{path} could not be read: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise FeedFetchError(f"{path} is larger than {max_bytes} bytes")
    return data
