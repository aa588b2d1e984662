"""The exec bridge, serving a script's output, passes the conformance kit, fuzzing included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exec_bridge.app import create_app
from exec_bridge.config import Settings
from tests.exec_bridge.sources import ScriptedSource, event, sample_events
from tests.support.processes import ROOT
from tests.support.servers import serve_app

pytest.importorskip("base_service.conformance.cli", reason="the conformance kit is not here")

TOKEN = "bridge-conformance-token"
OPTIONAL = {"etag", "incremental_sync"}  # contract 1.1 features the bridge leaves out
KIT_OPTIONS = ["--token", TOKEN, "--json", "--max-examples", "10"]


def test_the_bridge_passes_the_conformance_kit(tmp_path: Path) -> None:
    source = ScriptedSource(tmp_path)
    # Ties on start, events without an end, and more than one venue, for the kit to page over.
    source.serve([*sample_events(30), event("open-ended", "2031-01-01T10:00:00+02:00")])
    settings = Settings(exec_command=source.command, plugin_token=TOKEN, max_page_size=20)
    with serve_app(create_app(settings)) as url:
        result = subprocess.run(
            [sys.executable, "-m", "base_service.conformance", url, *KIT_OPTIONS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    report = json.loads(result.stdout)
    outcomes = {check["name"]: check["status"] for check in report["checks"]}
    assert result.returncode == 0, json.dumps(report["checks"], indent=1)
    assert {name for name, status in outcomes.items() if status != "PASS"} <= OPTIONAL, outcomes
    assert outcomes["fuzz"] == outcomes["auth_wrong_token"] == "PASS"
