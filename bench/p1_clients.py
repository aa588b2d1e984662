"""P1's HTTP question: one shared httpx pool or a client per plugin, as concurrency rises.

    uv run python bench/p1_clients.py [--plugins 1000] [--concurrency 8,32,100,0]

The same plugin-server process as P1 listens on 1,000 loopback addresses. Each strategy does
what a run does over HTTP — GET the manifest, then one page of 100 events — for every plugin,
at most N plugins in flight (0: all at once), and nothing else (no parsing, no database):

- `shared`: one AsyncClient for every plugin, with the base service's limits
  (200 connections, 50 kept alive);
- `shared-wide`: one AsyncClient whose pool can keep a connection to every plugin
  (max_connections = max_keepalive_connections = plugins);
- `per-plugin`: a new AsyncClient per plugin, closed after its two calls (what a run would
  hold if each run owned its client);
- `per-plugin-tls`: the same, every client given one TLS context made once (`verify=`):
  httpx otherwise builds a context, loading the CA bundle, for every client.

It prints the wall time of the whole round and the client process's CPU for each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

TIMEOUT = httpx.Timeout(30, pool=None)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _calls(client: httpx.AsyncClient, url: str) -> None:
    (await client.get(f"{url}/v1/manifest")).raise_for_status()
    (await client.get(f"{url}/v1/events", params={"limit": 100})).raise_for_status()


async def round_trip(urls: list[str], concurrency: int, strategy: str) -> tuple[float, float]:
    """Every plugin's two calls under `strategy`; (wall seconds, CPU seconds)."""
    gate = asyncio.Semaphore(concurrency) if concurrency else None
    shared: dict[str, Callable[[], httpx.AsyncClient]] = {
        "shared": lambda: httpx.AsyncClient(
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        ),
        "shared-wide": lambda: httpx.AsyncClient(
            timeout=TIMEOUT,
            limits=httpx.Limits(max_connections=len(urls), max_keepalive_connections=len(urls)),
        ),
    }
    tls = ssl.create_default_context() if strategy == "per-plugin-tls" else None
    started, cpu = time.perf_counter(), _cpu()
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(shared[strategy]()) if strategy in shared else None

        async def one(url: str) -> None:
            async with gate if gate else contextlib.nullcontext():
                if client is not None:
                    await _calls(client, url)
                    return
                verify: ssl.SSLContext | bool = tls if tls is not None else True
                async with httpx.AsyncClient(timeout=TIMEOUT, verify=verify) as own:
                    await _calls(own, url)

        await asyncio.gather(*(one(url) for url in urls))
    return time.perf_counter() - started, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--concurrency", default="8,32,100,0", help="in flight; 0 = all")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    bounds = [int(value) for value in args.concurrency.split(",")]
    strategies = ["shared", "shared-wide", "per-plugin", "per-plugin-tls"]

    hosts = common.loopback_hosts(args.plugins)
    results: dict[str, dict[str, Any]] = {}
    with common.temp_dir("marquee-p1c-") as work:
        port = common.free_port(hosts[0])
        urls = [f"http://{host}:{port}" for host in hosts]
        with common.plugin_server(work, hosts, port, events=100, page_size=100):
            for bound in bounds:
                for strategy in strategies:
                    wall, cpu = asyncio.run(round_trip(urls, bound, strategy))
                    results[f"{strategy}@{bound}"] = {"wall_s": wall, "cpu_s": cpu}

    rows = []
    for bound in bounds:
        label = "all" if bound == 0 else str(bound)
        cells = [
            f"{strategy} {results[f'{strategy}@{bound}']['wall_s']:.2f} s "
            f"(CPU {results[f'{strategy}@{bound}']['cpu_s']:.1f} s)"
            for strategy in strategies
        ]
        rows.append((f"{label} in flight", " | ".join(cells)))
    common.report(f"P1 HTTP clients: {args.plugins} plugins x (manifest + 1 page)", rows)
    common.dump_json(args.json, results)


if __name__ == "__main__":
    main()
