"""P5 exec vs HTTP: the cost per call of a plugin run as a spawned process versus an HTTP GET.

    uv run python bench/p5_exec_vs_http.py [--spawns 100] [--gets 1000]

Exec: what the exec bridge does on a run — `exec_bridge.runner.run` spawns `python script.py`
(its own process group, stdout collected, the group reaped), the script printing a page of
100 events as JSON. HTTP: one httpx AsyncClient GETs the same page, byte for byte, from the
running benchmark plugin (`plugin_server.py`). Calls are sequential; per-call mean/p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import plugin_server

from exec_bridge.runner import Command, run

HOST = "127.0.4.1"


async def exec_calls(script: Path, count: int, expected: bytes) -> list[float]:
    command = Command([sys.executable, str(script)], timeout_seconds=30, max_output_bytes=1 << 24)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        output = await run(command)
        times.append(time.perf_counter() - started)
        assert output.strip() == expected, output[:200]
    return times


async def http_calls(url: str, count: int, expected: bytes) -> list[float]:
    times = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(count + 20):  # the first 20 warm the connection up, not counted
            started = time.perf_counter()
            reply = await client.get(url, params={"limit": 100})
            times.append(time.perf_counter() - started)
            assert reply.content == expected
    return times[20:]


def summary(times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"n={len(ms)}  mean {statistics.fmean(ms):.2f} ms  p50 {common.percentile(ms, 50):.2f} ms"
        f"  p99 {common.percentile(ms, 99):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spawns", type=int, default=100)
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    payload = plugin_server.pages(100, 100)[0]
    with common.temp_dir("marquee-p5-") as work:
        script = work / "script.py"
        script.write_text(f"import sys\nsys.stdout.write({payload.decode()!r})\n")
        exec_times = asyncio.run(exec_calls(script, args.spawns, payload))
        port = common.free_port(HOST)
        with common.plugin_server(work, [HOST], port, events=100, page_size=100):
            url = f"http://{HOST}:{port}/v1/events"
            http_times = asyncio.run(http_calls(url, args.gets, payload))

    exec_mean = statistics.fmean(exec_times)
    http_mean = statistics.fmean(http_times)
    rows = [
        (f"HTTP GET ({len(payload):,} B)", summary(http_times)),
        ("exec: spawn python script.py", summary(exec_times)),
        ("exec / HTTP (mean)", f"{exec_mean / http_mean:.0f}x"),
    ]
    common.report("P5 exec vs HTTP, per call", rows)
    common.dump_json(args.json, {"exec_s": exec_times, "http_s": http_times})


if __name__ == "__main__":
    main()
