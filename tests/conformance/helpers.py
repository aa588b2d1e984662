"""Running the conformance kit from tests: in-process with --json, and reading its report."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from base_service.conformance.cli import main


def run_kit(*args: str) -> tuple[int, dict[str, Any]]:
    """Run the kit in this process with --json; return its exit status and its report."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main([*args, "--json"])
    report: dict[str, Any] = json.loads(output.getvalue())
    return status, report


def statuses(report: dict[str, Any]) -> dict[str, str]:
    """Each check's status by name."""
    return {check["name"]: check["status"] for check in report["checks"]}


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    """One check's entry in a report."""
    found: dict[str, Any] = next(c for c in report["checks"] if c["name"] == name)
    return found


def failed(report: dict[str, Any]) -> set[str]:
    """The names of the checks that failed."""
    return {name for name, status in statuses(report).items() if status == "FAIL"}


def explain(report: dict[str, Any]) -> str:
    """The report, for assertion messages."""
    return json.dumps(report["checks"], indent=1)
