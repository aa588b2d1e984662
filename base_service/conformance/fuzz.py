"""Property-based fuzzing of the plugin against the contract document, with schemathesis.

schemathesis (the `conformance` extra) reads openapi/plugin-api.yaml, generates requests for
the three operations from their parameters' schemas (valid and invalid values of `limit`,
`from`, `to`, `venue_id`, `cursor`, `sync_token`, `If-None-Match`), and checks every answer.
It runs as its own process (`python -m schemathesis.cli run`), in a temporary folder so that
no schemathesis.toml or report of the author's is read or written, and writes its events as
NDJSON there; the failures and their requests are read back from that file.

Checks run: all of schemathesis's (no 5xx, status codes the contract documents, documented
content types — so errors must be application/problem+json —, response headers and bodies
that match the schemas, 405 for methods the contract does not define), except two:

- `positive_data_acceptance` expects every request that fits the schemas to succeed. Some are
  rightly refused for reasons a schema cannot express: a `cursor` the plugin never issued
  (400), a `venue_id` the manifest does not list (404). The `error_bad_cursor` and
  `unknown_venue` checks hold plugins to exactly those answers instead.
- `negative_data_rejection` expects every request outside the schemas to be refused. The
  contract itself tells plugins to treat a `limit` above their max_page_size as
  max_page_size, and a plugin may be lenient with input the base service never sends (an
  empty `to`). The refusals that matter — a bad cursor, a bad `from` — are checked by
  `error_bad_cursor` and `error_bad_from`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base_service.conformance.context import Context, Failed, Skipped

EXCLUDED_CHECKS = ("positive_data_acceptance", "negative_data_rejection")
# Stateful testing is left out: it would follow next_cursor into cursor, which the kit's own
# walks already do exhaustively, and it doubles the time a run takes.
PHASES = "examples,coverage,fuzzing"
SEED = "20261203"  # a fixed seed: the same plugin gets the same requests on every run
TOKEN_ENV = "MARQUEE_CONFORMANCE_TOKEN"
SHOWN = 3


@dataclass(frozen=True)
class Finding:
    """One distinct failure schemathesis reported, and the request that showed it."""

    title: str
    message: str
    request: str


def check_fuzz(ctx: Context) -> str:
    """Generated requests never get a 5xx, and every answer matches the contract."""
    if not ctx.fuzz:
        raise Skipped("--no-fuzz given")
    if importlib.util.find_spec("schemathesis") is None:
        raise Skipped("schemathesis is not installed: pip install 'marquee[conformance]'")
    if ctx.spec is None:
        raise Skipped(ctx.spec_problem or "the contract document was not found")
    with tempfile.TemporaryDirectory(prefix="marquee-conformance-") as folder:
        workdir = Path(folder)
        completed = _run(ctx, ctx.spec, workdir)
        findings = _findings(workdir / "events.ndjson")
    if findings:
        listed = "; ".join(f"{f.title}: {f.message}" for f in findings[:SHOWN])
        more = f" (and {len(findings) - SHOWN} more)" if len(findings) > SHOWN else ""
        raise Failed(f"{len(findings)} failure(s): {listed}{more}", findings[0].request)
    if completed.returncode != 0:
        raise Failed(f"schemathesis stopped with status {completed.returncode}: {_tail(completed)}")
    return f"up to {ctx.max_examples} generated request(s) per operation and phase, all conform"


def _run(ctx: Context, spec: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run schemathesis against the plugin; the token goes through the environment."""
    config = workdir / "schemathesis.toml"
    headers = f'[headers]\nAuthorization = "Bearer ${{{TOKEN_ENV}}}"\n' if ctx.has_token else ""
    config.write_text(headers, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        str(spec),
        "--url",
        ctx.probe.base_url,
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--phases",
        PHASES,
        "--max-examples",
        str(ctx.max_examples),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        str(ctx.timeout),
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(workdir / "events.ndjson"),
    ]
    environment = {**os.environ, TOKEN_ENV: ctx.probe.token or ""}
    return subprocess.run(
        command,
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=ctx.timeout * 60 + 300,
        check=False,
    )


def _findings(events: Path) -> list[Finding]:
    """The distinct failures in schemathesis's NDJSON events, in the order found."""
    if not events.is_file():
        return []
    found: dict[tuple[str, str], Finding] = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "ScenarioFinished" not in event:
            continue
        recorder = event["ScenarioFinished"].get("recorder") or {}
        interactions = recorder.get("interactions") or {}
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if check.get("status") != "failure":
                    continue
                failure = (check.get("failure_info") or {}).get("failure") or {}
                title = f"{failure.get('code', '?')} {failure.get('title', check.get('name'))}"
                operation = str(failure.get("operation") or recorder.get("label") or "")
                key = (title, operation)
                if key not in found:
                    request = (interactions.get(case_id) or {}).get("request") or {}
                    found[key] = Finding(
                        f"{title} ({operation})",
                        _summary(failure.get("message")),
                        f"{request.get('method', '?')} {request.get('uri', operation)}",
                    )
    return list(found.values())


def _summary(message: Any) -> str:
    """The message's first line, and where in the schema it applies when it says so."""
    lines = [line.strip() for line in str(message or "").splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    where = next((line for line in lines if line.startswith("Schema at ")), None)
    return f"{lines[0]} ({where.rstrip(':')})" if where else lines[0]


def _tail(completed: subprocess.CompletedProcess[str]) -> str:
    output = [line.strip() for line in (completed.stdout + completed.stderr).splitlines()]
    return " | ".join(line for line in output if line)[-600:] or "(no output)"
