"""Commands for the exec bridge to run in tests: real Python scripts written to a folder."""

from __future__ import annotations

import json
import os
import shlex
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VENUES = ["harbour-hall", "the-lantern", "old-mill"]


def write_script(folder: Path, body: str, name: str = "source.py") -> list[str]:
    """Write a Python script; return the argument vector that runs it."""
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def manifest(venues: list[str] = VENUES, **extra: Any) -> dict[str, Any]:
    """A valid contract manifest listing `venues`."""
    return {
        "plugin_id": "test-source",
        "name": "Test source",
        "version": "1.0.0",
        "contract_version": "1.0",
        "venues": [{"id": v, "name": v.title(), "timezone": "Europe/Lisbon"} for v in venues],
        **extra,
    }


def event(
    event_id: str, start: datetime | str, venue_id: str = VENUES[0], **extra: Any
) -> dict[str, Any]:
    """A contract event (valid unless `extra` spoils it)."""
    return {
        "id": event_id,
        "venue_id": venue_id,
        "title": f"Event {event_id}",
        "start": start if isinstance(start, str) else start.isoformat(),
        **extra,
    }


def sample_events(count: int, origin: datetime | None = None) -> list[dict[str, Any]]:
    """`count` events over the venues; every third pair shares a start, so ids break ties."""
    origin = origin or datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return [
        event(
            f"e{index:03d}",
            origin + timedelta(hours=(index // 2) * 3),
            VENUES[index % len(VENUES)],
            end=(origin + timedelta(hours=(index // 2) * 3 + 2)).isoformat(),
        )
        for index in range(count)
    ]


class ScriptedSource:
    """A script whose next output the test sets; it counts its runs in a file.

    The script reads `spec.json` on every run: what to print on stdout and stderr, and the
    exit status. So the test can change what the next run does while the bridge serves.
    """

    def __init__(self, folder: Path) -> None:
        self.spec = folder / "spec.json"
        self.count = folder / "runs.txt"
        self.argv = write_script(
            folder,
            f"""
            import json, sys
            spec = json.loads(open({str(self.spec)!r}, encoding="utf-8").read())
            with open({str(self.count)!r}, "a", encoding="utf-8") as runs:
                runs.write("run\\n")
            sys.stderr.write(spec["stderr"])
            sys.stdout.write(spec["stdout"])
            sys.exit(spec["exit"])
            """,
        )

    @property
    def command(self) -> str:
        """The command line, as EXEC_COMMAND takes it."""
        return shlex.join(self.argv)

    def serve(self, events: list[dict[str, Any]], **manifest_extra: Any) -> None:
        """The next runs print a manifest and these events."""
        output = {"manifest": manifest(**manifest_extra), "events": events}
        self._write(stdout=json.dumps(output), stderr="", exit=0)

    def fail(self, stderr: str = "the upstream is down\n", status: int = 1) -> None:
        """The next runs print `stderr` and exit with `status`."""
        self._write(stdout="", stderr=stderr, exit=status)

    def runs(self) -> int:
        """How many times the script has run."""
        return len(self.count.read_text().splitlines()) if self.count.exists() else 0

    def _write(self, **spec: Any) -> None:
        temporary = self.spec.with_suffix(".tmp")
        temporary.write_text(json.dumps(spec), encoding="utf-8")
        os.replace(temporary, self.spec)  # a run never reads half a spec
