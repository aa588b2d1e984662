"""P3 serving: GET /v1/events over 1,000,000 stored events under 50 concurrent clients.

    uv run python bench/p3_serving.py [--events 1000000] [--duration 20] [--connections 50]
                                      [--plugins 1]

The schema is made by the base's own migrations, then 1,000,000 events (100 venues over a
year) are written straight into its `events` table with executemany. The base service serves
them with one registered plugin that is never due (`--plugins N`: N registered, the events
still all of one; the others stored nothing, as a listing's cost must not grow with them).
`wrk` (a separate process; `apt install wrk`) sends
`GET /v1/events?venue_id=…&from=…&to=…&limit=100`, rotating venue and 30-day window with a
Lua script. The baseline is a bare FastAPI app on the same uvicorn returning a
precomputed body of the same size. Targets: ≥ 50 % of the bare endpoint's requests/s,
p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from base_service import event_json

VENUES = 100
YEAR = datetime(2031, 1, 1, tzinfo=UTC)
LUA = """
local counter = 0
local origin = os.time{year=2031, month=1, day=1, hour=0}
request = function()
  counter = counter + 1
  local venue = string.format("v%03d", counter % 100)
  local t = origin + ((counter * 7) % 330) * 86400
  local from = os.date("!%Y-%m-%dT00:00:00Z", t)
  local to = os.date("!%Y-%m-%dT00:00:00Z", t + 30 * 86400)
  return wrk.format("GET", "/v1/events?venue_id=" .. venue .. "&from=" .. from ..
                    "&to=" .. to .. "&limit=100")
end
"""
COLUMNS = (
    *("plugin_id", "event_id", "venue_id", "title", "start_at", "end_at", "all_day", "timezone"),
    *("status", "url", "description", "image_url", "ticket_url", "categories", "performers"),
    *("source_updated_at", "document", "first_seen_at", "last_seen_at"),
    *("last_run_id", "changed_at", "removed_at"),
)


def fill(database: Path, count: int) -> None:
    """Write `count` events of one plugin across VENUES venues over a year, each with the
    public JSON document staging renders for it."""
    now = common.sql_time(datetime.now(UTC))
    step = timedelta(days=365) / count
    insert = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA synchronous=OFF")
        for first in range(0, count, 50_000):
            rows = []
            for n in range(first, min(first + 50_000, count)):
                start = YEAR + step * n
                content: dict[str, Any] = {
                    "plugin_id": "bench",
                    "event_id": f"ev-{n:07d}",
                    "venue_id": f"v{n % VENUES:03d}",
                    "title": f"Show number {n} with a title of a realistic length",
                    "start_at": start,
                    "end_at": start + timedelta(hours=2),
                    "all_day": False,
                    "timezone": "Europe/Lisbon",
                    "status": "scheduled",
                    "url": f"https://venue.example/shows/{n}",
                    "description": "An evening of music. Doors open an hour before; seated; all "
                    "ages.",
                    "image_url": None,
                    "ticket_url": None,
                    "categories": ["music", "live"],
                    "performers": [f"Band {n % 97}"],
                    "source_updated_at": None,
                }
                stored = {
                    **content,
                    "start_at": common.sql_time(content["start_at"]),
                    "end_at": common.sql_time(content["end_at"]),
                    "all_day": 0,
                    "categories": json.dumps(content["categories"]),
                    "performers": json.dumps(content["performers"]),
                    "document": event_json.document(content),
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "last_run_id": 1,
                    "changed_at": now,
                    "removed_at": None,
                }
                rows.append(tuple(stored[name] for name in COLUMNS))
            db.executemany(insert, rows)
        db.commit()
        db.execute("ANALYZE")


def bare_app(body_file: Path, port: int) -> None:
    """The baseline: FastAPI on uvicorn, as the base runs it, answering a precomputed body."""
    import uvicorn
    from fastapi import FastAPI, Response

    body = body_file.read_bytes()
    app = FastAPI()

    @app.get("/v1/events")
    async def events() -> Response:
        return Response(body, media_type="application/json")

    @app.get("/healthz")
    async def health() -> Response:
        return Response(b'{"status": "ok"}', media_type="application/json")

    # The base's server stack: uvicorn on asyncio's own loop (see base_service/__main__.py).
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", loop="asyncio")


def wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, Any]:
    """Run wrk; parse requests/s, p50, p99 and errors."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out, re.M)
        if match is None:
            raise RuntimeError(f"wrk's output has no {pattern!r}:\n{out}")
        return match

    def ms(label: str) -> float:
        value, unit = found(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$").groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--plugins", type=int, default=1, help="plugins registered (one holds the events)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the base under load: .svg or .txt"
    )
    parser.add_argument("--bare", nargs=2, metavar=("BODY", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_app(Path(args.bare[0]), int(args.bare[1]))
        return
    if shutil.which("wrk") is None:
        sys.exit("P3 needs wrk (Debian: apt install wrk)")

    with common.temp_dir("marquee-p3-") as work:
        database = work / "marquee.db"
        common.migrate(database)
        fill(database, args.events)
        far = datetime.now(UTC) + timedelta(days=3650)
        # The plugin whose events are stored, and as many more registered as `--plugins`
        # asks (never due, nothing stored: what a listing's cost must not grow with).
        names = ["bench", *(f"idle-{n:04d}" for n in range(1, args.plugins))]
        urls = [f"http://{host}:9" for host in common.loopback_hosts(args.plugins)]
        common.insert_plugins(database, names, urls, far)
        # What a successful run records: the longest event (2 h here), which bounds
        # time-window queries from below.
        with contextlib.closing(sqlite3.connect(database)) as db, db:
            db.execute("UPDATE plugins SET max_event_seconds = ?", (2 * 3600 + 1,))
        script = work / "events.lua"
        script.write_text(LUA)
        rotate = work / "same.lua"
        rotate.write_text("")

        port = common.free_port()
        plugin_urls = " ".join(f"{name}={url}" for name, url in zip(names, urls, strict=True))
        with common.base_service(work, database, port, PLUGIN_URLS=plugin_urls) as process:
            sample = httpx.get(
                f"http://127.0.0.1:{port}/v1/events",
                params={
                    "venue_id": "v007",
                    "from": "2031-03-01T00:00:00Z",
                    "to": "2031-03-31T00:00:00Z",
                    "limit": 100,
                },
                timeout=30,
            )
            sample.raise_for_status()
            assert sample.json()["items"], sample.text[:500]
            body = work / "body.json"
            body.write_bytes(sample.content)
            wrk(f"http://127.0.0.1:{port}", script, 3, args.connections)  # warm-up
            cpu_before = common.cpu_seconds(process.pid)
            with common.profiled(process.pid, args.profile):
                ours = wrk(f"http://127.0.0.1:{port}", script, args.duration, args.connections)
            ours["cpu_share"] = (common.cpu_seconds(process.pid) - cpu_before) / args.duration
            runs = common.run_rows(database)
            assert not runs, "the registered plugin must never run"

        bare_port = common.free_port()
        argv = [sys.executable, __file__, "--bare", str(body), str(bare_port)]
        with common.spawned(argv, work / "bare.log") as process:
            common.wait_http(process, f"http://127.0.0.1:{bare_port}/healthz", work / "bare.log")
            url = f"http://127.0.0.1:{bare_port}"
            wrk(url, rotate, 3, args.connections)
            cpu_before = common.cpu_seconds(process.pid)
            bare = wrk(url + "/v1/events", rotate, args.duration, args.connections)
            bare["cpu_share"] = (common.cpu_seconds(process.pid) - cpu_before) / args.duration

    share = ours["rps"] / bare["rps"]

    def line(result: dict[str, Any]) -> str:
        return (
            f"{result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, server CPU {result['cpu_share']:.0%} of a core, "
            f"non-2xx {result['non_2xx']} {result['socket_errors']}"
        )

    rows = [
        (f"bare endpoint ({len(sample.content):,} B body)", line(bare)),
        ("base GET /v1/events", line(ours)),
        (
            "target: ≥ 50 % of bare",
            f"{share:.0%}: {'met' if share >= 0.5 else 'NOT met'}",
        ),
        (
            "target: p99 ≤ 50 ms",
            f"{ours['p99_ms']:.1f} ms: {'met' if ours['p99_ms'] <= 50 else 'NOT met'}",
        ),
    ]
    common.report(
        f"P3 serving: {args.events:,} events, {args.plugins:,} plugins, {args.connections} "
        f"connections, wrk {args.duration}s",
        rows,
    )
    common.dump_json(args.json, {"bare": bare, "base": ours})


if __name__ == "__main__":
    main()
