"""Check results and the two ways of showing them: readable text, or one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    """How a check ended."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: what it found and, on failure, the request that showed it."""

    name: str
    status: Status
    detail: str
    request: str | None = None


@dataclass(frozen=True)
class Header:
    """What was checked: the plugin's URL and the contract revision of the document."""

    url: str
    contract: str | None


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    """How many checks passed, failed and were skipped."""
    return {
        "passed": sum(r.status is Status.PASS for r in results),
        "failed": sum(r.status is Status.FAIL for r in results),
        "skipped": sum(r.status is Status.SKIP for r in results),
    }


def summary_line(results: Sequence[CheckResult]) -> str:
    """`N passed, N failed, N skipped`."""
    numbers = counts(results)
    return f"{numbers['passed']} passed, {numbers['failed']} failed, {numbers['skipped']} skipped"


def render_text(header: Header, results: Sequence[CheckResult]) -> str:
    """One line per check, the reason under a failure, then the summary line."""
    contract = f" against contract {header.contract}" if header.contract else ""
    lines = [f"Marquee plugin conformance: {header.url}{contract}", ""]
    width = max((len(r.name) for r in results), default=0)
    for result in results:
        lines.append(f"{result.status.value}  {result.name.ljust(width)}  {result.detail}")
        if result.status is Status.FAIL and result.request:
            lines.append(f"{' ' * (width + 8)}request: {result.request}")
    lines += ["", summary_line(results)]
    return "\n".join(lines) + "\n"


def render_json(header: Header, results: Sequence[CheckResult]) -> str:
    """The whole report as one JSON document."""
    document = {
        "plugin": header.url,
        "contract": header.contract,
        "checks": [{**asdict(r), "status": r.status.value} for r in results],
        "summary": counts(results),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
