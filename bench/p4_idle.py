"""P4 idle: CPU of the base service with 1,000 registered plugins, none due, over 60 s.

    uv run python bench/p4_idle.py [--plugins 1000] [--seconds 60]

The plugins table is written before start-up (after the base's own migrations) with every
next run ten years ahead, so the scheduler only polls. The figure is the base process's
utime+stime (/proc/<pid>/stat) over the window. The baseline, measured over the same window,
is a bare FastAPI app on the same uvicorn, idle. Target: < 1 % of one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    with common.temp_dir("marquee-p4-") as work:
        database = work / "marquee.db"
        common.migrate(database)
        names = [f"p{n:04d}" for n in range(args.plugins)]
        urls = [f"http://{host}:9" for host in common.loopback_hosts(args.plugins)]
        far = datetime.now(UTC) + timedelta(days=3650)
        common.insert_plugins(database, names, urls, far)
        body = work / "body.json"
        body.write_bytes(b"{}")
        plugin_urls = " ".join(f"{name}={url}" for name, url in zip(names, urls, strict=True))
        bare_port = common.free_port()
        bare_argv = [sys.executable, str(common.BENCH / "p3_serving.py"), "--bare", str(body)]
        with (
            common.base_service(
                work, database, common.free_port(), PLUGIN_URLS=plugin_urls
            ) as base,
            common.spawned([*bare_argv, str(bare_port)], work / "bare.log") as bare,
        ):
            common.wait_http(bare, f"http://127.0.0.1:{bare_port}/healthz", work / "bare.log")
            time.sleep(5)  # let start-up settle
            before = {p.pid: common.cpu_seconds(p.pid) for p in (base, bare)}
            started = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - started
            used = {p.pid: common.cpu_seconds(p.pid) - before[p.pid] for p in (base, bare)}
            runs = common.run_rows(database)
        assert not runs, "no plugin may be due"

    base_share = used[base.pid] / elapsed
    bare_share = used[bare.pid] / elapsed
    rows = [
        ("bare FastAPI app, idle", f"{used[bare.pid]:.2f} s CPU = {bare_share:.2%} of a core"),
        (
            f"base, {args.plugins} plugins none due",
            f"{used[base.pid]:.2f} s CPU = {base_share:.2%} of a core",
        ),
        ("target: < 1 % of a core", "met" if base_share < 0.01 else "NOT met"),
    ]
    common.report(f"P4 idle: {elapsed:.0f} s window", rows)
    common.dump_json(args.json, {"base_share": base_share, "bare_share": bare_share})


if __name__ == "__main__":
    main()
