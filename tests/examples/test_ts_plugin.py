"""The TypeScript plugin (examples/ts-plugin), built with npm and run as a Node process, against
the real base service, which knows it only through PLUGIN_URLS.

Needs node (>= 20) and npm, and the npm registry for `npm ci`. Without node or npm these tests
skip, saying why; with MARQUEE_REQUIRE_NODE=1 they fail instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.base import all_events, wait_until
from tests.support.processes import ROOT, service, service_env
from tests.support.servers import free_port

PLUGIN_DIR = ROOT / "examples" / "ts-plugin"
EVENTS_FILE = PLUGIN_DIR / "data" / "events.json"
REQUIRE_NODE = os.environ.get("MARQUEE_REQUIRE_NODE") == "1"
NODE_MAJOR = 20
RIGHT, WRONG = "right-token-7f3a", "wrong-token-c41e"
# The plugin's own settings: the tests set them, the environment they run in does not.
PLUGIN_VARIABLES = {
    "PLUGIN_TOKEN",
    "EVENTS_FILE",
    "PLUGIN_ID",
    "MAX_PAGE_SIZE",
    "REFRESH_INTERVAL_SECONDS",
}


def _unavailable(reason: str) -> None:
    message = f"{reason}; the TypeScript plugin example needs node >= {NODE_MAJOR} and npm"
    if REQUIRE_NODE:
        pytest.fail(f"{message} (MARQUEE_REQUIRE_NODE=1)")
    pytest.skip(f"{message} (set MARQUEE_REQUIRE_NODE=1 to fail instead of skipping)")


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in service_env().items() if k not in PLUGIN_VARIABLES}
    env.update(npm_config_update_notifier="false", npm_config_fund="false")
    env.update(variables)
    return env


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable (skips, or fails when required, if node or npm is missing)."""
    found, npm_path = shutil.which("node"), shutil.which("npm")
    if found is None or npm_path is None:
        _unavailable(f"{'node' if found is None else 'npm'} is not on PATH")
    assert found is not None
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < NODE_MAJOR:
        _unavailable(f"node {version or '(unknown version)'} is too old")
    return found


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run an npm command in the plugin's folder."""
    executable = shutil.which("npm")
    assert executable is not None
    return subprocess.run(
        [executable, *args],
        cwd=PLUGIN_DIR,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def server_js(node: str) -> Path:
    """The plugin installed from its lock file and compiled: dist/server.js."""
    for args in (("ci", "--no-audit"), ("run", "build")):
        result = npm(*args)
        assert result.returncode == 0, (
            f"npm {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
        )
    built = PLUGIN_DIR / "dist" / "server.js"
    assert built.is_file()
    return built


@contextlib.contextmanager
def node_plugin(
    node: str, server: Path, log: Path, *, cwd: Path = PLUGIN_DIR, **variables: str
) -> Iterator[str]:
    """Run the plugin on a free loopback port until it answers; yield its URL; stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(server)],
            cwd=cwd,
            env=_env(PORT=str(port), HOST="127.0.0.1", **variables),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"the plugin exited with {process.returncode}:\n{log.read_text()}"
                )
            try:
                # Any answer will do: with a token, health is a 401 to this anonymous probe.
                httpx.get(f"{url}/v1/health", timeout=1)
            except httpx.TransportError:
                return False
            return True

        wait_until(answers, timeout=30, what=f"the Node plugin at {url} to answer")
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    # Reached only when the block succeeded: SIGTERM is a clean stop.
    assert process.returncode == 0, (
        f"the plugin stopped with {process.returncode}:\n{log.read_text()}"
    )


@contextlib.contextmanager
def base_service(tmp_path: Path, plugin_urls: str, **variables: str) -> Iterator[httpx.Client]:
    """The real base service as a process, with its own SQLite file; yield a client for it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        service(
            "base_service",
            f"{url}/healthz",
            tmp_path / "base.log",
            PORT=str(port),
            PLUGIN_URLS=plugin_urls,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'marquee.db'}",
            FIRST_RUN_SPREAD_SECONDS="0",
            **variables,
        ),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield client


def wait_for_state(client: httpx.Client, plugin_id: str, state: str) -> dict[str, Any]:
    """Wait until the base shows the plugin in `state` after a finished run; return its view."""

    def reached() -> dict[str, Any] | None:
        view: dict[str, Any] = client.get(f"/v1/plugins/{plugin_id}").json()
        return view if view["state"] == state and not view["running"] else None

    result: dict[str, Any] = wait_until(reached, timeout=30, what=f"{plugin_id} to be {state}")
    return result


def walk_plugin(url: str, **headers: str) -> list[dict[str, Any]]:
    """Every event the plugin lists, following next_cursor."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = httpx.get(f"{url}/v1/events", params=params, headers=headers, timeout=10)
        response.raise_for_status()
        page = response.json()
        events.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def expected_from_file() -> tuple[int, set[tuple[str, str, str]]]:
    """How many events the shipped file stands for, and its venues (id, name, time zone)."""
    document = json.loads(EVENTS_FILE.read_text())
    count = sum(
        entry["repeat"]["count"] if "repeat" in entry else 1 for entry in document["events"]
    )
    venues = {(v["id"], v["name"], v["timezone"]) for v in document["venues"]}
    return count, venues


def test_the_base_serves_the_events_of_the_node_plugin(
    node: str, server_js: Path, tmp_path: Path
) -> None:
    count, venues = expected_from_file()
    assert count >= 20
    with (
        # Pages of 7: the base walks several pages and follows the plugin's cursors.
        node_plugin(node, server_js, tmp_path / "plugin.log", MAX_PAGE_SIZE="7") as plugin_url,
        base_service(tmp_path, f"ts={plugin_url}") as client,
    ):
        view = wait_for_state(client, "ts", "ok")
        run = view["last_run"]
        assert run["outcome"] == "success"
        assert run["counts"]["inserted"] == count
        assert run["counts"]["quarantined"] == 0
        assert run["counts"]["pages"] == -(-count // 7)
        assert view["manifest"]["plugin_id"] == "json-events"

        served = all_events(client, plugin_id="ts")
        from_plugin = {event["id"]: event for event in walk_plugin(plugin_url)}
        assert len(served) == len(from_plugin) == count
        assert {event["id"] for event in served} == set(from_plugin)
        for event in served:
            original = from_plugin[event["id"]]
            assert event["venue_id"] == original["venue_id"]
            assert datetime.fromisoformat(event["start"]) == datetime.fromisoformat(
                original["start"]
            )
        cancelled = [event for event in served if event["status"] == "cancelled"]
        assert [event["title"] for event in cancelled] == ["Winter Ball"]
        assert any(event["all_day"] for event in served)

        listed = client.get("/v1/venues").json()["items"]
        assert {(v["id"], v["name"], v["timezone"]) for v in listed} == venues
        assert {v["plugin_id"] for v in listed} == {"ts"}
        kestrel = all_events(client, venue_id="kestrel-hall", status="cancelled")
        assert [event["title"] for event in kestrel] == ["Winter Ball"]
    log = (tmp_path / "base.log").read_text()
    assert "run succeeded" in log


def test_the_base_sends_the_configured_token_and_reports_a_wrong_one(
    node: str, server_js: Path, tmp_path: Path
) -> None:
    with (
        node_plugin(node, server_js, tmp_path / "good.log", PLUGIN_TOKEN=RIGHT) as good,
        node_plugin(node, server_js, tmp_path / "bad.log", PLUGIN_TOKEN=RIGHT) as bad,
        base_service(
            tmp_path,
            f"good={good} bad={bad}",
            PLUGIN_OVERRIDES=json.dumps({"good": {"token": RIGHT}, "bad": {"token": WRONG}}),
        ) as client,
    ):
        anonymous = httpx.get(f"{good}/v1/events", timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert wait_for_state(client, "good", "ok")["last_run"]["counts"]["inserted"] >= 20
        failing = wait_for_state(client, "bad", "failing")
        assert failing["last_run"]["error_kind"] == "auth"
        assert RIGHT not in json.dumps(failing) and WRONG not in json.dumps(failing)


def test_npm_test_passes(server_js: Path) -> None:
    result = npm("test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# pass [1-9]\d*$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), result.stdout


def test_the_generated_types_match_the_contract(server_js: Path) -> None:
    result = npm("run", "check-generated")
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (PLUGIN_DIR / "src" / "generated" / "plugin-api.ts").read_text()
    assert generated.startswith("/**\n * GENERATED FILE - DO NOT EDIT.")


@pytest.mark.skipif(
    importlib.util.find_spec("base_service.conformance.cli") is None,
    reason="the conformance kit (base_service/conformance/cli.py) is not in this checkout",
)
def test_the_conformance_kit_passes_the_node_plugin(
    node: str, server_js: Path, tmp_path: Path
) -> None:
    with node_plugin(node, server_js, tmp_path / "plugin.log", PLUGIN_TOKEN="kit-token") as url:
        result = subprocess.run(
            [sys.executable, "-m", "base_service.conformance", url, "--token", "kit-token"],
            cwd=ROOT,
            env=service_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_layout_runs_and_its_healthcheck_passes(
    node: str, server_js: Path, tmp_path: Path
) -> None:
    """The runtime stage of the Dockerfile, reproduced in a folder: package.json, data/, dist/,
    no node_modules; the default EVENTS_FILE resolves inside it, and the probe passes."""
    dockerfile = (PLUGIN_DIR / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    assert [stage.split("\n", 1)[0] for stage in stages] == [
        "node:20-slim AS build",
        "node:20-slim",
    ]
    runtime = stages[-1]
    assert re.findall(r"^COPY (.+)$", runtime, flags=re.MULTILINE) == [
        "package.json ./",
        "data ./data",
        "--from=build /build/dist ./dist",
    ]
    assert re.search(r"^USER (?!root\b|0\b)\S+$", runtime, flags=re.MULTILINE)
    assert 'CMD ["node", "dist/healthcheck.js"]' in runtime
    assert runtime.rstrip().endswith('CMD ["node", "dist/server.js"]')
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (PLUGIN_DIR / source).exists(), f"COPY {source} is missing"

    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(PLUGIN_DIR / "package.json", app)
    shutil.copytree(PLUGIN_DIR / "data", app / "data")
    shutil.copytree(PLUGIN_DIR / "dist", app / "dist")
    with node_plugin(
        node, app / "dist" / "server.js", tmp_path / "plugin.log", cwd=app, PLUGIN_TOKEN="t"
    ) as url:
        port = url.rsplit(":", 1)[1]
        probe = [node, str(app / "dist" / "healthcheck.js")]
        healthy = subprocess.run(
            probe, cwd=app, env=_env(PORT=port, PLUGIN_TOKEN="t"), timeout=30, check=False
        )
        assert healthy.returncode == 0
        without_token = subprocess.run(probe, cwd=app, env=_env(PORT=port), timeout=30)
        assert without_token.returncode == 1
        manifest = httpx.get(
            f"{url}/v1/manifest", headers={"Authorization": "Bearer t"}, timeout=5
        ).json()
        assert (
            manifest["version"] == json.loads((PLUGIN_DIR / "package.json").read_text())["version"]
        )
        assert len(walk_plugin(url, Authorization="Bearer t")) == expected_from_file()[0]
    stopped = subprocess.run(probe, cwd=app, env=_env(PORT=port, PLUGIN_TOKEN="t"), timeout=30)
    assert stopped.returncode == 1
    assert f"from {app / 'data' / 'events.json'}" in (tmp_path / "plugin.log").read_text()


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"PORT": "eighty"}, ["PORT"]),
        ({"MAX_PAGE_SIZE": "0", "PLUGIN_ID": "Not A Slug"}, ["MAX_PAGE_SIZE", "PLUGIN_ID"]),
        ({"EVENTS_FILE": "/nonexistent/events.json"}, ["EVENTS_FILE", "/nonexistent/events.json"]),
        ({"EVENTS_FILE": str(Path(__file__))}, ["EVENTS_FILE", "is not JSON"]),
    ],
)
def test_bad_settings_stop_start_up_naming_the_variable(
    node: str, server_js: Path, variables: dict[str, str], named: list[str]
) -> None:
    result = subprocess.run(
        [node, str(server_js)],
        cwd=PLUGIN_DIR,
        env=_env(**{"PORT": str(free_port()), **variables}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    for text in named:
        assert text in result.stderr
    assert "    at " not in result.stderr, "a stack trace instead of a message"
