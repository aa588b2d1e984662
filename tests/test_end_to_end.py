"""The whole loop with real processes: the example plugin and the base service, wired only by
PLUGIN_URLS, on free loopback ports, with a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.support.base import all_events, wait_until
from tests.support.processes import ROOT, service, service_env
from tests.support.servers import free_port


def test_events_flow_from_the_example_plugin_to_clients(tmp_path: Path) -> None:
    plugin_port, base_port = free_port(), free_port()
    plugin_url = f"http://127.0.0.1:{plugin_port}"
    base_url = f"http://127.0.0.1:{base_port}"
    with (
        service(
            "example_plugin_service",
            f"{plugin_url}/v1/health",
            tmp_path / "plugin.log",
            PORT=str(plugin_port),
        ),
        service(
            "base_service",
            f"{base_url}/healthz",
            tmp_path / "base.log",
            PORT=str(base_port),
            PLUGIN_URLS=f"ics={plugin_url}",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}",
        ) as base,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):

        def ok() -> dict[str, object] | None:
            (plugin,) = client.get("/v1/plugins").json()["items"]
            return plugin if plugin["state"] == "ok" else None

        plugin = wait_until(ok, timeout=30, what="the example plugin to be ok")
        assert plugin["last_run"]["outcome"] == "success"
        assert plugin["manifest"]["plugin_id"] == "ics-feeds"
        now = datetime.now(UTC).isoformat()
        upcoming = all_events(client, **{"from": now})
        assert 0 < len(upcoming) <= plugin["last_run"]["counts"]["inserted"]
        assert {e["venue_id"] for e in upcoming} >= {"harbour-hall", "the-lantern"}
        assert any(e["status"] == "cancelled" for e in upcoming)
        assert any(e["all_day"] for e in upcoming)
        venues = client.get("/v1/venues").json()["items"]
        assert {v["timezone"] for v in venues} == {"Europe/Lisbon", "America/New_York"}
        base.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
        assert base.wait(timeout=20) in (0, -15)
    log = (tmp_path / "base.log").read_text()
    assert "run succeeded" in log
    assert "base service stopped" in log


def _start_with(**variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "base_service"],
        cwd=ROOT,
        env=service_env(**variables),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_malformed_plugin_urls_stops_start_up_naming_the_entry() -> None:
    result = _start_with(PLUGIN_URLS="ics=http://ok:8081, tickets=ftp://nope")
    assert result.returncode == 2
    assert "PLUGIN_URLS" in result.stderr
    assert "'tickets=ftp://nope'" in result.stderr


def test_a_duplicate_plugin_stops_start_up() -> None:
    result = _start_with(PLUGIN_URLS="a=http://x:1 a=http://y:2")
    assert result.returncode == 2
    assert "registers the name 'a' twice" in result.stderr


def test_malformed_numbers_name_the_variable() -> None:
    result = _start_with(PORT="eighty", MAX_CONCURRENT_RUNS="0")
    assert result.returncode == 2
    assert "PORT" in result.stderr and "MAX_CONCURRENT_RUNS" in result.stderr
    assert "Traceback" not in result.stderr


def test_unparseable_json_names_the_variable() -> None:
    result = _start_with(PLUGIN_URLS="a=http://x:1", PLUGIN_OVERRIDES="not json")
    assert result.returncode == 2
    assert "PLUGIN_OVERRIDES: cannot be parsed" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_stops_start_up_in_one_sentence() -> None:
    closed = free_port()  # nothing listens there
    result = _start_with(
        DATABASE_URL=f"postgresql+asyncpg://marquee:s3cret@127.0.0.1:{closed}/marquee"
    )
    assert result.returncode == 3
    assert "cannot use the database postgresql+asyncpg://marquee:***@127.0.0.1" in result.stderr
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    port = free_port()
    database = f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}"
    with service(
        "base_service",
        f"http://127.0.0.1:{port}/healthz",
        tmp_path / "first.log",
        PORT=str(port),
        DATABASE_URL=database,
    ):
        result = _start_with(PORT=str(free_port()), DATABASE_URL=database)
    assert result.returncode != 0
    assert "SQLite supports one replica" in result.stderr
