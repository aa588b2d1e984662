"""The example plugin, served as the operator runs it, passes the conformance kit."""

from __future__ import annotations

import pytest

from example_plugin_service.app import create_app
from example_plugin_service.config import Settings
from tests.conformance.helpers import check, explain, failed, run_kit, statuses
from tests.support.servers import serve_app

TOKEN = "example-plugin-token"
OPTIONAL = {"etag", "incremental_sync"}  # features of contract 1.1 a plugin may leave out
TOKEN_CHECKS = {"auth_missing_token", "auth_wrong_token", "auth_token_accepted"}


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "PLUGIN_TOKEN"])
def test_the_example_plugin_passes_every_check(token: str | None) -> None:
    with serve_app(create_app(Settings(plugin_token=token))) as url:
        args = [url, "--no-fuzz", *(["--token", token] if token else [])]
        status, report = run_kit(*args)

    assert status == 0, explain(report)
    assert report["summary"]["failed"] == 0
    may_skip = OPTIONAL | {"fuzz"} | (set() if token else TOKEN_CHECKS)
    for name, value in statuses(report).items():
        assert value == "PASS" or (value == "SKIP" and name in may_skip), explain(report)
    assert check(report, "fuzz")["detail"] == "--no-fuzz given"
    if token:
        assert "401" in check(report, "auth_missing_token")["detail"]
    else:
        assert {statuses(report)[name] for name in TOKEN_CHECKS} == {"SKIP"}


def test_the_example_plugin_survives_fuzzing() -> None:
    with serve_app(create_app(Settings(plugin_token=None))) as url:
        status, report = run_kit(url, "--max-examples", "10")

    assert failed(report) == set(), explain(report)
    assert status == 0
