"""P2 ingest: one plugin serving N events in pages of 1,000 — events/s and peak RSS.

    uv run python bench/p2_ingest.py [--events 20000,200000]

For each N, a fresh base service (`python -m base_service`, SQLite in a temp dir,
PAGE_SIZE=1000) runs the plugin once; events/s is N over the time from the run's start (its
run record) until its outcome, committed with its events, is seen in the database (polled
every 10 ms), and the base process's RSS is sampled every 50 ms (plus VmHWM at the end). The
baseline, in its own process with the same RSS sampling, follows the same cursors with one
httpx AsyncClient and inserts each page with executemany into a fresh SQLite table.
Targets: ≥ 50 % of the baseline's events/s; peak RSS < 150 MB and flat from 20k to 200k.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from p1_fanout import RAW_INSERT, _row, raw_db

HOST = "127.0.2.1"


async def raw_ingest(url: str, database: Path) -> tuple[float, int]:
    """Follow every page, insert each with executemany; (seconds, events stored)."""
    started = time.perf_counter()
    db = raw_db(database)
    async with httpx.AsyncClient(timeout=60) as client:
        (await client.get(f"{url}/v1/manifest")).raise_for_status()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            reply = await client.get(f"{url}/v1/events", params=params)
            reply.raise_for_status()
            page = json.loads(reply.content)
            db.executemany(RAW_INSERT, [_row("bench", event) for event in page["events"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    db.commit()
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    return time.perf_counter() - started, stored


def baseline(work: Path, url: str, events: int) -> dict[str, Any]:
    """Run `raw_ingest` in a child process, sampling its RSS like the base's."""
    out = work / f"raw-{events}.json"
    argv = [sys.executable, __file__, "--raw", url, str(work / f"raw-{events}.db"), str(out)]
    process = subprocess.Popen(argv, cwd=common.ROOT)
    try:
        with common.RssSampler(process.pid) as rss:
            process.wait(timeout=600)
    finally:
        common.stop(process)
    seconds, stored = json.loads(out.read_text())
    assert stored == events, stored
    return {"seconds": seconds, "events_per_s": events / seconds, "peak_rss_mb": rss.peak_kb / 1024}


def base(
    work: Path, url: str, events: int, timeout: float, profile: Path | None = None
) -> dict[str, Any]:
    """One run of the real base service over the plugin."""
    database = work / f"base-{events}.db"
    with common.base_service(
        work,
        database,
        common.free_port(),
        PLUGIN_URLS=f"bench={url}",
        FIRST_RUN_SPREAD_SECONDS="0",
        DEFAULT_INTERVAL_SECONDS="604800",
        PAGE_SIZE="1000",
    ) as process:
        with common.RssSampler(process.pid) as rss, common.profiled(process.pid, profile):
            rows, applied = common.wait_runs(database, 1, timeout, process)
    run = rows[0]
    assert run["outcome"] == "success" and run["inserted"] == events, run
    seconds = common.run_span(rows, applied)
    return {"seconds": seconds, "events_per_s": events / seconds, "peak_rss_mb": rss.peak_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="20000,200000")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run, at most")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the base's runs: .svg or .txt"
    )
    parser.add_argument(
        "--plugin-delay", type=float, default=0.0, help="seconds the plugin takes per answer"
    )
    parser.add_argument("--raw", nargs=3, metavar=("URL", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw:  # the baseline's child process
        url, database, out = args.raw
        Path(out).write_text(json.dumps(asyncio.run(raw_ingest(url, Path(database)))))
        return

    results: dict[int, dict[str, Any]] = {}
    for events in [int(value) for value in args.events.split(",")]:
        with common.temp_dir("marquee-p2-") as work:
            port = common.free_port(HOST)
            with common.plugin_server(
                work, [HOST], port, events=events, page_size=1000, delay=args.plugin_delay
            ):
                url = f"http://{HOST}:{port}"
                results[events] = {
                    "baseline": baseline(work, url, events),
                    "base": base(work, url, events, args.timeout, args.profile),
                }

    rows = []
    for events, result in results.items():
        raw, ours = result["baseline"], result["base"]
        share = ours["events_per_s"] / raw["events_per_s"]
        rows.append(
            (
                f"N={events:,}",
                f"baseline {raw['events_per_s']:,.0f} ev/s ({raw['seconds']:.1f} s, "
                f"peak RSS {raw['peak_rss_mb']:.0f} MB) | base {ours['events_per_s']:,.0f} ev/s "
                f"({ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.0f} MB) | "
                f"{share:.0%} of baseline",
            )
        )
    shares = [r["base"]["events_per_s"] / r["baseline"]["events_per_s"] for r in results.values()]
    peaks = [r["base"]["peak_rss_mb"] for r in results.values()]
    rows.append(("target: ≥ 50 % of baseline", "met" if min(shares) >= 0.5 else "NOT met"))
    rows.append(
        (
            "target: peak RSS < 150 MB, flat",
            f"{' → '.join(f'{p:.0f}' for p in peaks)} MB: "
            + ("met" if max(peaks) < 150 and max(peaks) - min(peaks) < 20 else "NOT met"),
        )
    )
    common.report("P2 ingest: one plugin, pages of 1,000", rows)
    common.dump_json(args.json, {str(k): v for k, v in results.items()})


if __name__ == "__main__":
    main()
