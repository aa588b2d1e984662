"""Crashes and shutdowns of a real base process: SIGKILL at random points, SIGTERM mid-run.

The base runs as a real process against a fake plugin on loopback; the SQLite file is read
directly between crashes. A run is applied in one transaction or not at all, so after any
crash the served events are exactly one complete snapshot.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request, Response

from tests.support.base import ADMIN_TOKEN, wait_until
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.processes import service
from tests.support.servers import free_port, serve_app

EVENTS_PER_SNAPSHOT = 300


class VersionedPlugin:
    """A fake plugin whose every run (manifest request) serves the next complete snapshot."""

    def __init__(self) -> None:
        self.fake = FakePlugin(page_size=25, refresh_interval_seconds=None)
        self.version = 0
        self.fake.faults["/v1/manifest"] = self._next_version

    def _next_version(self, _: Request) -> Response | None:
        self.version += 1
        self.fake.events = self.snapshot(self.version)
        return None

    @staticmethod
    def snapshot(version: int) -> list[dict[str, Any]]:
        first = version * 7  # each snapshot drops some old ids and adds new ones
        return [
            make_event(n, title=f"v{version}") for n in range(first, first + EVENTS_PER_SNAPSHOT)
        ]


@pytest.fixture
def versioned() -> Iterator[tuple[VersionedPlugin, str]]:
    plugin = VersionedPlugin()
    with serve_app(plugin.fake.app()) as url:
        yield plugin, url


def _served(db: Path) -> tuple[str, list[tuple[str, str]]]:
    """The integrity check result and the events a client would be served."""
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute(
            "SELECT event_id, title FROM events WHERE removed_at IS NULL"
        ).fetchall()
    return integrity, rows


def _assert_one_complete_snapshot(rows: list[tuple[str, str]]) -> int:
    """Every served event is from one snapshot, and all of that snapshot is served."""
    if not rows:
        return 0
    titles = {title for _, title in rows}
    assert len(titles) == 1, f"events from several runs are served together: {sorted(titles)}"
    version = int(titles.pop()[1:])
    expected = {event["id"] for event in VersionedPlugin.snapshot(version)}
    assert {event_id for event_id, _ in rows} == expected
    return version


def _base_env(db: Path, plugin_url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        "PORT": str(port),
        "PLUGIN_URLS": f"fake={plugin_url}",
        "PLUGIN_OVERRIDES": json.dumps({"fake": {"interval_seconds": 1}}),
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "FIRST_RUN_SPREAD_SECONDS": "0",
        "FAILURE_BACKOFF_SECONDS": "1",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        **extra,
    }


def test_sigkill_at_random_points_never_leaves_a_partial_apply(
    versioned: tuple[VersionedPlugin, str], tmp_path: Path
) -> None:
    plugin, url = versioned
    plugin.fake.delay = 0.02  # a run takes about a quarter of its 1 s interval
    db = tmp_path / "marquee.db"
    rng = random.Random(20261203)
    applied_versions = set()
    for attempt in range(12):
        port = free_port()
        log = tmp_path / f"base-{attempt}.log"
        with service(
            "base_service", f"http://127.0.0.1:{port}/healthz", log, **_base_env(db, url, port)
        ) as base:
            if attempt % 4 == 3:  # certainly mid-run: two of a run's twelve pages served
                served = len(plugin.fake.event_requests())
                wait_until(
                    lambda served=served: len(plugin.fake.event_requests()) >= served + 2,
                    what="a run to be paging",
                )
            else:
                time.sleep(rng.uniform(0.1, 3.0))  # the crash point: anywhere in the run cycle
            base.send_signal(signal.SIGKILL)
            base.wait(timeout=10)
        integrity, rows = _served(db)
        assert integrity == "ok"
        applied_versions.add(_assert_one_complete_snapshot(rows))

    # Crashes landed at different points: several different snapshots were the last applied.
    assert len(applied_versions - {0}) >= 2, applied_versions

    port = free_port()
    with (
        service(
            "base_service",
            f"http://127.0.0.1:{port}/healthz",
            tmp_path / "final.log",
            **_base_env(db, url, port),
        ) as base,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        runs_before = max(
            (r["run_id"] for r in client.get("/v1/plugins/fake/runs").json()["items"]), default=0
        )

        def succeeded_again() -> bool:
            runs = client.get("/v1/plugins/fake/runs", params={"limit": 50}).json()["items"]
            return any(r["run_id"] > runs_before and r["outcome"] == "success" for r in runs)

        wait_until(succeeded_again, timeout=30, what="a successful run after the crashes")
        base.send_signal(signal.SIGTERM)
        base.wait(timeout=20)
    integrity, rows = _served(db)
    assert integrity == "ok"
    assert _assert_one_complete_snapshot(rows) > 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM staged_events").fetchone()[0] == 0
        assert (
            conn.execute("SELECT count(*) FROM runs WHERE outcome = 'running'").fetchone()[0] == 0
        )
        abandoned = conn.execute(
            "SELECT count(*) FROM runs WHERE outcome = 'abandoned'"
        ).fetchone()[0]
    assert abandoned >= 1  # killed runs are recorded as abandoned, not left "running"


def test_sigterm_mid_run_abandons_it_within_the_grace_period(
    versioned: tuple[VersionedPlugin, str], tmp_path: Path
) -> None:
    plugin, url = versioned
    db = tmp_path / "marquee.db"
    port = free_port()
    env = _base_env(db, url, port, SHUTDOWN_GRACE_SECONDS="1")
    env["PLUGIN_OVERRIDES"] = json.dumps({"fake": {"interval_seconds": 3600}})
    with (
        service(
            "base_service", f"http://127.0.0.1:{port}/healthz", tmp_path / "base.log", **env
        ) as base,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        wait_until(
            lambda: client.get("/v1/plugins/fake").json()["state"] == "ok", what="the first run"
        )
        plugin.fake.delay = 0.5  # the next run takes about 6 s: 12 pages
        response = client.post(
            "/v1/plugins/fake/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 202
        wait_until(lambda: len(plugin.fake.event_requests()) > 13, what="the run to be paging")
        started = time.monotonic()
        base.send_signal(signal.SIGTERM)
        base.wait(timeout=20)
        stopped_in = time.monotonic() - started
    assert stopped_in < 1 + 3  # the grace period, plus the time to roll back and exit
    integrity, rows = _served(db)
    assert integrity == "ok"
    assert _assert_one_complete_snapshot(rows) == 1
    with sqlite3.connect(db) as conn:
        outcomes = [r[0] for r in conn.execute("SELECT outcome FROM runs ORDER BY run_id")]
        assert conn.execute("SELECT count(*) FROM staged_events").fetchone()[0] == 0
    assert outcomes == ["success", "abandoned"]
    assert "cancelled runs at shutdown" in (tmp_path / "base.log").read_text()
