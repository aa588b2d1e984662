"""Start a created podman-compose project the way `docker compose up --wait` does.

podman-compose on podman < 4.6 ignores `depends_on: condition: service_healthy`, and without
systemd nothing runs the healthchecks. This starts the project's containers in dependency order,
runs each one's healthcheck itself until it passes, starts a service only when the services it
depends on meet their condition, and returns once every container is healthy (or running, when
it has no healthcheck).

usage: podman-compose ... config | python podman_start.py PROJECT [--timeout SECONDS]
(run with a Python that has PyYAML: podman-compose's own.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from graphlib import CycleError, TopologicalSorter
from typing import Any

import yaml

POLL_SECONDS = 1.0


class StartError(RuntimeError):
    """A service did not start, or did not become healthy in time."""


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def log(message: str) -> None:
    print(f"  {message}", flush=True)


class Project:
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.services: dict[str, Any] = config.get("services") or {}
        listing = podman(
            "ps", "-a", "--filter", f"label=com.docker.compose.project={name}", "--format", "json"
        )
        self.containers: dict[str, list[str]] = {}
        for container in json.loads(listing.stdout or "[]"):
            service = (container.get("Labels") or {}).get("com.docker.compose.service")
            if service:
                self.containers.setdefault(service, []).append(container["Names"][0])
        unknown = set(self.containers) - set(self.services)
        if unknown:
            raise StartError(f"containers of services not in the configuration: {sorted(unknown)}")
        self.healthy: set[str] = set()
        self.reported: set[tuple[str, str]] = set()

    def depends_on(self, service: str) -> dict[str, str]:
        deps = self.services[service].get("depends_on") or {}
        if isinstance(deps, list):
            return dict.fromkeys(deps, "service_started")
        return {
            name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()
        }

    def order(self) -> list[str]:
        graph = {s: set(self.depends_on(s)) & set(self.containers) for s in self.containers}
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as error:
            raise StartError(f"depends_on has a cycle: {error.args[1]}") from error

    def state(self, container: str) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(
            podman("inspect", "--format", "{{json .State}}", container).stdout
        )
        return state

    def has_healthcheck(self, container: str) -> bool:
        check = podman("inspect", "--format", "{{json .Config.Healthcheck}}", container).stdout
        test = (json.loads(check or "null") or {}).get("Test") or []
        return bool(test) and test[0] != "NONE"

    def met(self, container: str, condition: str) -> bool:
        """Whether the container meets a depends_on condition now (runs its healthcheck)."""
        state = self.state(container)
        status = state.get("Status")
        if condition == "service_completed_successfully":
            if status == "exited":
                if state.get("ExitCode") != 0:
                    raise StartError(f"{container} exited with {state.get('ExitCode')}")
                return True
            return False
        if status != "running":
            raise StartError(f"{container} is {status} (exit code {state.get('ExitCode')})")
        if condition == "service_started" or not self.has_healthcheck(container):
            return True
        if container in self.healthy:
            return True
        if podman("healthcheck", "run", container, check=False).returncode == 0:
            self.healthy.add(container)
            return True
        health = self.state(container).get("Health") or {}
        if health.get("Status") == "unhealthy":  # its retries are used up, past start_period
            last = (health.get("Log") or [{}])[-1]
            output = ((last.get("Output") or "").strip().splitlines() or [""])[-1][:300]
            raise StartError(f"{container} is unhealthy ({last.get('ExitCode')}) {output}")
        return False

    def wait(self, wanted: dict[str, str], deadline: float, started: float) -> None:
        """Wait until every container of each service meets its condition."""
        pending = {(c, cond) for s, cond in wanted.items() for c in self.containers.get(s, [])}
        while pending:
            for container, condition in sorted(pending):
                if self.met(container, condition):
                    pending.discard((container, condition))
                    if condition == "service_completed_successfully":
                        self.report(container, "completed", started)
                    elif container in self.healthy:
                        self.report(container, "healthy", started)
                    else:
                        self.report(container, "running", started)
            if pending and time.monotonic() > deadline:
                names = ", ".join(sorted(c for c, _ in pending))
                raise StartError(f"not healthy in time: {names}")
            if pending:
                time.sleep(POLL_SECONDS)

    def report(self, container: str, what: str, started: float) -> None:
        if (container, what) not in self.reported:
            self.reported.add((container, what))
            log(f"{container}: {what} after {time.monotonic() - started:.0f} s")

    def start(self, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        for service in self.order():
            deps = {d: c for d, c in self.depends_on(service).items() if d in self.containers}
            self.wait(deps, deadline, started)
            for container in self.containers[service]:
                if self.state(container).get("Status") == "running":
                    log(f"{container}: already running")
                    continue
                result = podman("start", container, check=False)
                if result.returncode != 0:
                    raise StartError(f"podman start {container}: {result.stderr.strip()}")
                log(f"{container}: started")
        self.wait(dict.fromkeys(self.containers, "service_healthy"), deadline, started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    try:
        project = Project(args.project, yaml.safe_load(sys.stdin))
        if not project.containers:
            raise StartError(f"project {args.project} has no containers")
        project.start(args.timeout)
    except StartError as error:
        print(f"podman_start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
