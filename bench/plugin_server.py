"""A minimal plugin for the benchmarks: an asyncio HTTP/1.1 responder with precomputed bodies.

It listens on every address of `--hosts-file` at one port, so one process can stand in for a
thousand plugins, and answers `GET /v1/manifest`, `/v1/health` and `/v1/events` (`--events`
valid events in pages of `--page-size`, the cursor being the page number) from bytes built at
start-up: the plugin costs as little CPU as a server can.

    python bench/plugin_server.py --hosts-file hosts.txt --port 9000 --events 100 --page-size 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

VENUES = [{"id": f"hall-{n}", "name": f"Hall {n}", "timezone": "Europe/Lisbon"} for n in range(4)]
_START = datetime(2031, 1, 1, 20, tzinfo=UTC)


def make_event(n: int) -> dict[str, Any]:
    """A valid contract event, about 400 bytes of JSON, numbered."""
    start = _START + timedelta(hours=3 * n)
    return {
        "id": f"ev-{n:07d}",
        "venue_id": VENUES[n % len(VENUES)]["id"],
        "title": f"Show number {n} with a title of a realistic length",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "timezone": "Europe/Lisbon",
        "status": "scheduled",
        "url": f"https://venue.example/shows/{n}",
        "description": "An evening of music. Doors open an hour before; seated; all ages.",
        "categories": ["music", "live"],
        "performers": [f"Band {n % 97}"],
    }


def manifest(page_size: int) -> dict[str, Any]:
    """The manifest every address serves."""
    return {
        "plugin_id": "bench",
        "name": "Benchmark plugin",
        "version": "1.0.0",
        "contract_version": "1.0",
        "venues": VENUES,
        "max_page_size": page_size,
    }


def pages(events: int, page_size: int) -> list[bytes]:
    """Every page of events as bytes; page k's next_cursor is k+1, the last one's null."""
    count = max(1, -(-events // page_size))
    bodies = []
    for page in range(count):
        first = page * page_size
        chunk = [make_event(n) for n in range(first, min(first + page_size, events))]
        cursor = str(page + 1) if page + 1 < count else None
        bodies.append(json.dumps({"events": chunk, "next_cursor": cursor}).encode())
    return bodies


def _response(body: bytes, status: str = "200 OK") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class Plugin:
    """The precomputed answers."""

    def __init__(self, events: int, page_size: int, delay: float = 0.0) -> None:
        self.delay = delay
        self.manifest = _response(json.dumps(manifest(page_size)).encode())
        self.health = _response(b'{"status": "ok", "detail": null}')
        self.pages = [_response(body) for body in pages(events, page_size)]
        self.not_found = _response(b'{"status": 404}', "404 Not Found")

    def answer(self, target: str) -> bytes:
        """The response to `GET target`."""
        parts = urlsplit(target)
        if parts.path == "/v1/events":
            cursor = parse_qs(parts.query).get("cursor", ["0"])[0]
            index = int(cursor) if cursor.isdigit() else -1
            return self.pages[index] if 0 <= index < len(self.pages) else self.not_found
        if parts.path == "/v1/manifest":
            return self.manifest
        if parts.path == "/v1/health":
            return self.health
        return self.not_found

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until the client closes it."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                if self.delay:  # a source that takes time to answer, like a real one
                    await asyncio.sleep(self.delay)
                writer.write(self.answer(target))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts-file", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    hosts = args.hosts_file.read_text().split()
    plugin = Plugin(args.events, args.page_size, args.delay)
    server = await asyncio.start_server(plugin.serve, hosts, args.port, backlog=4096)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
