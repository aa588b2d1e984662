"""P1 fan-out: one full round of 1,000 plugins (100 events each), base service vs a raw script.

    uv run python bench/p1_fanout.py [--plugins 1000] [--concurrency 8,32,100]

One plugin-server process listens on 1,000 loopback addresses (127.0.1.1 …). For each
MAX_CONCURRENT_RUNS value, a fresh base service (`python -m base_service`, SQLite in a temp
dir, FIRST_RUN_SPREAD_SECONDS=0, a week's interval) runs every plugin once; the figure runs
from the first run's started_at until every run's outcome (committed with its events) is seen
in the database, polled every 10 ms. The baseline is a plain asyncio script:
one httpx AsyncClient fetches the same manifests and pages concurrently (at most 8, 32, 100 in
flight, the same bounds as the base; `--unbounded-baseline` adds all 1,000 at once) and inserts
the rows into a fresh SQLite table with executemany — no validation, no staging, no
bookkeeping. The best baseline is the reference.
Target: base ≤ 2x baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def _row(plugin: str, event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        plugin,
        event["id"],
        event["venue_id"],
        event["title"],
        event["start"],
        event.get("end"),
        event["status"],
        event.get("url"),
        event.get("description"),
        json.dumps(event.get("categories", [])),
        json.dumps(event.get("performers", [])),
    )


RAW_TABLE = (
    "CREATE TABLE events (plugin_id TEXT, event_id TEXT, venue_id TEXT, title TEXT,"
    " start_at TEXT, end_at TEXT, status TEXT, url TEXT, description TEXT, categories TEXT,"
    " performers TEXT, PRIMARY KEY (plugin_id, event_id))"
)
RAW_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def raw_db(path: Path) -> sqlite3.Connection:
    """A fresh SQLite table, tuned like the base's (WAL, synchronous=NORMAL)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(RAW_TABLE)
    return db


async def raw_round(plugins: dict[str, str], database: Path, concurrency: int | None) -> float:
    """Fetch every plugin's manifest and page, insert the rows; seconds taken."""
    started = time.perf_counter()
    db = raw_db(database)
    gate = asyncio.Semaphore(concurrency) if concurrency else None
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30, pool=None)) as client:

        async def one(name: str, url: str) -> None:
            async with gate if gate else contextlib.nullcontext():
                (await client.get(f"{url}/v1/manifest")).raise_for_status()
                reply = await client.get(f"{url}/v1/events", params={"limit": 100})
                reply.raise_for_status()
                page = json.loads(reply.content)
            db.executemany(RAW_INSERT, [_row(name, event) for event in page["events"]])

        await asyncio.gather(*(one(name, url) for name, url in plugins.items()))
    db.commit()
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    elapsed = time.perf_counter() - started
    assert stored == 100 * len(plugins), stored
    return elapsed


def base_round(
    work: Path,
    plugins: dict[str, str],
    concurrency: int,
    timeout: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One round of the real base service; its span (all due to all applied) and CPU."""
    database = work / f"base-c{concurrency}.db"
    port = common.free_port()
    urls = " ".join(f"{name}={url}" for name, url in plugins.items())
    with common.base_service(
        work,
        database,
        port,
        PLUGIN_URLS=urls,
        FIRST_RUN_SPREAD_SECONDS="0",
        DEFAULT_INTERVAL_SECONDS="604800",
        MAX_CONCURRENT_RUNS=str(concurrency),
        PAGE_SIZE="100",
    ) as process:
        cpu_before = common.cpu_seconds(process.pid)
        with common.RssSampler(process.pid) as rss, common.profiled(process.pid, profile):
            rows, applied = common.wait_runs(database, len(plugins), timeout, process)
        cpu = common.cpu_seconds(process.pid) - cpu_before
    span = common.run_span(rows, applied)
    failed = [row for row in rows if row["outcome"] != "success"]
    return {
        "concurrency": concurrency,
        "span_s": span,
        "runs": len(rows),
        "failed": len(failed),
        "failure_kinds": sorted({row["error_kind"] for row in failed}),
        "cpu_s": cpu,
        "peak_rss_mb": rss.peak_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--concurrency", default="8,32,100", help="MAX_CONCURRENT_RUNS values")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per round, at most")
    parser.add_argument(
        "--unbounded-baseline",
        action="store_true",
        help="also time the baseline with all plugins at once (slow: httpx's pool degrades)",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the base's round: .svg or .txt"
    )
    args = parser.parse_args()
    values = [int(value) for value in args.concurrency.split(",")]

    hosts = common.loopback_hosts(args.plugins)
    with common.temp_dir("marquee-p1-") as work:
        port = common.free_port(hosts[0])
        plugins = {f"p{n:04d}": f"http://{host}:{port}" for n, host in enumerate(hosts)}
        with common.plugin_server(work, hosts, port, events=100, page_size=100):
            baseline = {}
            bounds = [None, *values] if args.unbounded_baseline else values
            for bound in bounds:
                seconds = asyncio.run(raw_round(plugins, work / f"raw-{bound}.db", bound))
                baseline[bound] = seconds
            rounds = [base_round(work, plugins, c, args.timeout, args.profile) for c in values]

    best = min(baseline.values())
    rows = [
        (f"baseline, {'all' if b is None else f'at most {b}'} at once", f"{s:.2f} s")
        for b, s in baseline.items()
    ]
    for result in rounds:
        c = result["concurrency"]
        rows.append(
            (
                f"base, MAX_CONCURRENT_RUNS={c}",
                f"{result['span_s']:.2f} s  ({result['span_s'] / best:.1f}x best baseline, "
                f"{result['span_s'] / baseline[c]:.1f}x baseline at {c}); "
                f"CPU {result['cpu_s']:.1f} s = {result['cpu_s'] / result['span_s']:.0%} "
                f"of a core; peak RSS {result['peak_rss_mb']:.0f} MB; "
                f"{result['failed']} failed {result['failure_kinds'] or ''}",
            )
        )
    fastest = min(rounds, key=lambda r: r["span_s"])
    ratio = fastest["span_s"] / best
    rows.append(
        ("target", f"base ≤ 2x baseline: {ratio:.1f}x → {'met' if ratio <= 2 else 'NOT met'}")
    )
    common.report(f"P1 fan-out: {args.plugins} plugins x 100 events, one round", rows)
    common.dump_json(
        args.json, {"baseline_s": {str(k): v for k, v in baseline.items()}, "rounds": rounds}
    )


if __name__ == "__main__":
    main()
