"""Several base replicas, as real processes, on one PostgreSQL database.

A plugin server counts the runs it receives; the replicas must run it exactly once per interval,
take over from a replica killed mid-run within the lease expiry, and ride out lost database
connections.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.base import ADMIN_TOKEN, wait_until
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.processes import spawned, wait_answering
from tests.support.servers import free_port, serve_app
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.postgres

INTERVAL = 2
LEASE = 3.0


@pytest.fixture
def counting_plugin() -> Iterator[tuple[FakePlugin, str]]:
    plugin = FakePlugin(page_size=10, refresh_interval_seconds=None)
    plugin.events = [make_event(n) for n in range(40)]
    with serve_app(plugin.app()) as url:
        yield plugin, url


def _env(database_url: str, plugin_url: str, port: int) -> dict[str, str]:
    return {
        "PORT": str(port),
        "PLUGIN_URLS": f"counted={plugin_url}",
        "PLUGIN_OVERRIDES": json.dumps({"counted": {"interval_seconds": INTERVAL}}),
        "DATABASE_URL": database_url,
        "FIRST_RUN_SPREAD_SECONDS": "0",
        "FAILURE_BACKOFF_SECONDS": "1",
        "LEASE_SECONDS": str(LEASE),
        "SCHEDULER_POLL_SECONDS": "0.25",
        "ADMIN_TOKEN": ADMIN_TOKEN,
    }


@contextlib.contextmanager
def replicas(
    count: int, database_url: str, plugin_url: str, logs: Path
) -> Iterator[list[tuple[Any, str]]]:
    """Start `count` base processes at once on one database (so their migrations race);
    yield (process, url) pairs once all answer."""
    with contextlib.ExitStack() as stack:
        started = []
        for n in range(count):
            port = free_port()
            log = logs / f"replica-{n}.log"
            process = stack.enter_context(
                spawned("base_service", log, **_env(database_url, plugin_url, port))
            )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in started:
            wait_answering(process, f"{url}/healthz", log)
        yield [(process, url) for process, url, _ in started]


def _runs(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/v1/plugins/counted/runs", params={"limit": 200}, timeout=5)
    response.raise_for_status()
    return list(reversed(response.json()["items"]))


def _manifest_requests(plugin: FakePlugin) -> int:
    return sum(1 for path, _, _ in plugin.requests if path == "/v1/manifest")


def test_three_replicas_run_a_plugin_once_per_interval(
    counting_plugin: tuple[FakePlugin, str], postgres_url: str, tmp_path: Path
) -> None:
    plugin, plugin_url = counting_plugin
    with replicas(3, postgres_url, plugin_url, tmp_path) as started:
        urls = [url for _, url in started]
        wait_until(lambda: len(_runs(urls[0])) >= 8, timeout=40, what="eight runs")
        runs = _runs(urls[0])
        views = [httpx.get(f"{url}/v1/plugins/counted").json() for url in urls]
        events = httpx.get(f"{urls[1]}/v1/events", params={"limit": 500}).json()["items"]
    finished = [run for run in runs if run["outcome"] != "running"]
    assert all(run["outcome"] == "success" for run in finished), finished
    # Exactly one run per interval: each run starts in a later interval than the one before.
    # (The first run comes at start-up, off the grid; the grid starts with the second.)
    starts = [datetime.fromisoformat(run["started_at"]) for run in finished[1:]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert all(gap > INTERVAL * 0.75 for gap in gaps), gaps
    assert all(gap < INTERVAL * 2 + 0.5 for gap in gaps), gaps  # and none skipped
    assert _manifest_requests(plugin) in (len(runs), len(runs) + 1)
    assert len({run["replica"] for run in finished}) >= 2  # the work is shared out
    # Every replica tells the same truth.
    assert len({(v["last_success_at"], v["next_run_at"]) for v in views}) <= 2
    assert len(events) == 40 and len({e["id"] for e in events}) == 40
    print(f"{len(finished)} intervals run by 3 replicas, duplicate runs: 0")  # noqa: T201


def test_a_killed_lease_holder_is_taken_over_within_the_lease(
    counting_plugin: tuple[FakePlugin, str], postgres_url: str, tmp_path: Path
) -> None:
    plugin, plugin_url = counting_plugin
    with replicas(3, postgres_url, plugin_url, tmp_path) as started:
        urls = [url for _, url in started]
        wait_until(
            lambda: any(r["outcome"] == "success" for r in _runs(urls[0])), what="a first run"
        )
        plugin.delay = 0.4  # a run now takes about 2 s (5 requests)

        def running() -> dict[str, Any] | None:
            return next((r for r in _runs(urls[0]) if r["outcome"] == "running"), None)

        victim_run = wait_until(running, timeout=20, what="a run in flight")
        pid = int(victim_run["replica"].split(":")[1])
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        survivor = next(url for process, url in started if process.pid != pid)

        def taken_over() -> dict[str, Any] | None:
            return next(
                (
                    r
                    for r in _runs(survivor)
                    if r["run_id"] > victim_run["run_id"] and r["outcome"] == "success"
                ),
                None,
            )

        next_run = wait_until(taken_over, timeout=30, what="another replica's successful run")
        takeover = time.monotonic() - killed_at
        runs = _runs(survivor)
        events = httpx.get(f"{survivor}/v1/events", params={"limit": 500}).json()["items"]
    victim = next(r for r in runs if r["run_id"] == victim_run["run_id"])
    assert victim["outcome"] == "abandoned"
    assert victim["counts"]["inserted"] == victim["counts"]["updated"] == 0
    assert next_run["replica"] != victim_run["replica"]
    # Lease expiry, plus a scheduler poll, plus the run itself (about 2 s here).
    assert takeover < LEASE + 0.25 + 2 * 3, takeover
    assert len(events) == 40 and len({e["id"] for e in events}) == 40
    print(f"take-over after SIGKILL: {takeover:.1f} s")  # noqa: T201 - a figure worth seeing


def test_replicas_ride_out_lost_database_connections(
    counting_plugin: tuple[FakePlugin, str], postgres_url: str, tmp_path: Path
) -> None:
    _, plugin_url = counting_plugin
    database = make_url(postgres_url)
    with tcp_proxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        via_proxy = database.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        with replicas(2, via_proxy, plugin_url, tmp_path) as started:
            url = started[0][1]
            wait_until(lambda: len(_runs(url)) >= 2, timeout=30, what="two runs")
            proxy.cut()
            wait_until(
                lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 503,
                timeout=15,
                what="/readyz to report the database gone",
            )
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            proxy.restore()
            wait_until(
                lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200,
                timeout=30,
                what="/readyz to recover",
            )
            before = len(_runs(url))
            wait_until(
                lambda: len(_runs(url)) >= before + 2,
                timeout=30,
                what="runs to go on after the database came back",
            )
            runs = _runs(url)
    assert runs[-2]["outcome"] == "success" or runs[-1]["outcome"] == "success"
