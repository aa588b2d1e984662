"""The exec bridge as operators run it: a real process running the example script, read by a real
base service process wired to it only through PLUGIN_URLS."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.base import all_events, wait_until
from tests.support.processes import ROOT, service_env, spawned
from tests.support.servers import free_port

EXAMPLE_SCRIPT = ROOT / "examples" / "exec-script" / "my_source.py"
# Both processes start at once; on a busy machine importing the web stack alone takes a while.
START_TIMEOUT_SECONDS = 120


def wait_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until `url` answers 200; fail with the log if the process exits first."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{url}: exited {process.returncode}:\n{log.read_text()}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=START_TIMEOUT_SECONDS, what=f"{url} to answer")


def probe(port: int) -> int:
    """The exit status of the container health probe against a bridge on `port`."""
    return subprocess.run(
        [sys.executable, "-m", "exec_bridge.healthcheck"],
        cwd=ROOT,
        env=service_env(PORT=str(port), EXEC_COMMAND="true"),
        capture_output=True,
        timeout=60,
    ).returncode


def test_the_base_service_serves_the_example_scripts_events(tmp_path: Path) -> None:
    bridge_port, base_port = free_port(), free_port()
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    base_url = f"http://127.0.0.1:{base_port}"
    with (
        spawned(
            "exec_bridge",
            tmp_path / "bridge.log",
            PORT=str(bridge_port),
            EXEC_COMMAND=shlex.join([sys.executable, str(EXAMPLE_SCRIPT)]),
        ) as bridge,
        spawned(
            "base_service",
            tmp_path / "base.log",
            PORT=str(base_port),
            PLUGIN_URLS=f"exec={bridge_url}",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}",
            FIRST_RUN_SPREAD_SECONDS="0",
        ) as base,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        wait_answering(bridge, f"{bridge_url}/v1/health", tmp_path / "bridge.log")
        wait_answering(base, f"{base_url}/healthz", tmp_path / "base.log")

        def ok() -> dict[str, object] | None:
            (plugin,) = client.get("/v1/plugins").json()["items"]
            return plugin if plugin["state"] == "ok" else None

        plugin = wait_until(ok, timeout=60, what="the exec bridge to be ok in the base")
        served = all_events(client)
        direct = httpx.get(f"{bridge_url}/v1/events", params={"limit": 500}).json()["events"]
        venues = client.get("/v1/venues").json()["items"]
        assert probe(bridge_port) == 0
    assert plugin["manifest"]["plugin_id"] == "riverside-programme"
    assert plugin["last_run"]["counts"]["inserted"] == len(direct) == 12
    assert plugin["last_run"]["counts"]["quarantined"] == 0
    assert sorted(e["id"] for e in served) == sorted(e["id"] for e in direct)
    assert {e["venue_id"] for e in served} == {"riverside-community-hall"}
    assert {e["title"] for e in served} == {"Folk Session", "Quiz Night", "Family Film Matinee"}
    assert [(v["plugin_id"], v["id"]) for v in venues] == [("exec", "riverside-community-hall")]
    program = Path(sys.executable).name
    assert (
        f"Run of {program} my_source.py succeeded: 12 events"
        in (tmp_path / "bridge.log").read_text()
    )
    assert probe(bridge_port) == 1  # nothing answers there any more
