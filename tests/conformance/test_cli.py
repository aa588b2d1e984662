"""The command line: arguments, exit statuses, the text and JSON reports, and real processes."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from base_service.conformance.cli import main
from base_service.conformance.runner import CHECK_NAMES
from tests.conformance.helpers import check, explain, run_kit, statuses
from tests.support.broken_plugin import BrokenPlugin
from tests.support.processes import ROOT
from tests.support.servers import free_port, serve_app

TOKEN = "cli-token"


def run_text(*args: str) -> tuple[int, str]:
    """Run the kit in this process; its exit status and its text report."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main(list(args))
    return status, output.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["ftp://127.0.0.1:9000"],
        ["127.0.0.1:9000"],
        ["http://"],
        ["http://127.0.0.1:9000/?limit=5"],
        ["http://127.0.0.1:9000", "--timeout", "0"],
        ["http://127.0.0.1:9000", "--max-examples", "none"],
        ["http://127.0.0.1:9000", "--colour"],
    ],
    ids=["no-url", "ftp", "no-scheme", "no-host", "query", "timeout-0", "examples-nan", "unknown"],
)
def test_bad_arguments_exit_with_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: marquee-conformance" in capsys.readouterr().err


def test_the_text_report_has_a_line_per_check_and_the_failing_request() -> None:
    with serve_app(BrokenPlugin(faults={"duplicate_ids"}).app()) as url:
        status, text = run_text(url, "--no-fuzz")
        _, report = run_kit(url, "--no-fuzz")

    assert status == 1
    lines = text.splitlines()
    assert lines[0] == f"Marquee plugin conformance: {url} against contract 1.1.0"
    for entry in report["checks"]:
        line = next(line for line in lines if line.split()[1:2] == [entry["name"]])
        assert line.startswith(entry["status"]), line
        assert entry["detail"] in line
    failure = lines.index(next(line for line in lines if line.startswith("FAIL  unique_ids")))
    assert lines[failure + 1].strip() == f"request: {check(report, 'unique_ids')['request']}"
    assert lines[-1] == "17 passed, 1 failed, 4 skipped"
    assert report["summary"] == {"passed": 17, "failed": 1, "skipped": 4}
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    assert set(report["checks"][0]) == {"name", "status", "detail", "request"}


def test_a_plugin_that_wants_a_token_gets_told_so_once() -> None:
    with serve_app(BrokenPlugin(token=TOKEN).app()) as url:
        status, text = run_text(url)

    assert status == 1
    assert (
        "FAIL  auth_token_accepted  the plugin answered 401 without a token: it needs one; "
        "run again with --token TOKEN"
    ) in text
    assert f"request: GET {url}/v1/manifest" in text
    assert text.splitlines()[-1] == f"0 passed, 1 failed, {len(CHECK_NAMES) - 1} skipped"


def test_a_plugin_that_does_not_answer_fails_the_manifest_check() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, report = run_kit(url, "--timeout", "2")

    assert status == 1
    manifest = check(report, "manifest")
    assert manifest["status"] == "FAIL"
    assert "no answer: ConnectError" in manifest["detail"]
    assert manifest["request"] == f"GET {url}/v1/manifest"


def test_without_the_contract_file_fuzzing_is_skipped_and_says_how_to_fix_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "plugin-api.yaml"
    with serve_app(BrokenPlugin().app()) as url:
        status, report = run_kit(url, "--spec", str(missing))

    assert status == 0, explain(report)
    assert report["contract"] is None
    fuzz = check(report, "fuzz")
    assert fuzz["status"] == "SKIP"
    assert f"not found at {missing}" in fuzz["detail"]
    assert "--spec PATH" in fuzz["detail"]


def test_python_dash_m_runs_as_a_real_process() -> None:
    with serve_app(BrokenPlugin(faults={"ignore_limit"}, token=TOKEN).app()) as url:
        result = subprocess.run(
            [sys.executable, "-m", "base_service.conformance", url, "--token", TOKEN, "--no-fuzz"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  limit" in result.stdout
    assert f"request: GET {url}/v1/events?limit=3" in result.stdout
    assert result.stdout.splitlines()[-1] == "20 passed, 1 failed, 1 skipped"
    assert TOKEN not in result.stdout


def test_the_console_script_prints_json() -> None:
    script = Path(sys.executable).with_name("marquee-conformance")
    with serve_app(BrokenPlugin().app()) as url:
        result = subprocess.run(
            [str(script), url, "--json", "--no-fuzz", "--timeout", "5"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["plugin"] == url
    assert statuses(report)["fuzz"] == "SKIP"
    assert report["summary"] == {"passed": 18, "failed": 0, "skipped": 4}
