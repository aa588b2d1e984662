"""Each fault of the broken plugin makes the check that owns it fail, naming the request."""

from __future__ import annotations

import pytest

from tests.conformance.helpers import check, explain, failed, run_kit, statuses
from tests.support.broken_plugin import FAULTS, BrokenPlugin
from tests.support.servers import serve_app

TOKEN = "broken-plugin-token"

# fault -> (the check that owns it, what its detail says, what its request shows, every check
# the fault makes fail — some faults show in more than one place, and that is stated here)
EXPECTED: dict[str, tuple[str, str, str, set[str]]] = {
    "naive_datetimes": (
        "date_time_offsets",
        "start '2030-03-01T19:00:00' is not an RFC 3339 date-time with an offset",
        "GET http://127.0.0.1:{port}/v1/events?limit=5",
        {"date_time_offsets", "events_valid"},
    ),
    "duplicate_ids": (
        "unique_ids",
        "id 'ev-01' on page 2 was already on page 1",
        "/v1/events?limit=5&cursor=",
        {"unique_ids"},
    ),
    "ignore_limit": (
        "limit",
        "5 events on a page asked for at most 3",
        "GET http://127.0.0.1:{port}/v1/events?limit=3",
        {"limit"},
    ),
    "cursor_loop": (
        "pagination",
        "page 3 gave next_cursor",
        "/v1/events?limit=5&cursor=",
        {"pagination"},
    ),
    "plain_errors": (
        "error_bad_cursor",
        "400 came as application/json, not application/problem+json",
        "GET http://127.0.0.1:{port}/v1/events?cursor=",
        {
            "error_bad_cursor",
            "error_bad_from",
            "error_unknown_path",
            "unknown_venue",
            "auth_missing_token",
            "auth_wrong_token",
        },
    ),
    "no_auth": (
        "auth_missing_token",
        "/v1/manifest answered 200 without a token: the plugin does not enforce its token",
        "GET http://127.0.0.1:{port}/v1/manifest (no Authorization header)",
        {"auth_missing_token", "auth_wrong_token"},
    ),
    "ignore_venue": (
        "venue_filter",
        "venue_id=cellar listed event 'ev-00', which is at 'hall'",
        "GET http://127.0.0.1:{port}/v1/events?venue_id=cellar&limit=5",
        {"venue_filter", "unknown_venue"},
    ),
}


def test_every_fault_has_an_expectation() -> None:
    assert set(EXPECTED) == FAULTS


def test_without_faults_the_broken_plugin_passes_everything_fuzzing_included() -> None:
    plugin = BrokenPlugin(token=TOKEN)
    with serve_app(plugin.app()) as url:
        status, report = run_kit(url, "--token", TOKEN, "--max-examples", "10")

    assert status == 0, explain(report)
    assert set(statuses(report).values()) == {"PASS"}, explain(report)
    assert "304" in check(report, "etag")["detail"]
    assert "mode 'changes'" in check(report, "incremental_sync")["detail"]


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_a_fault_fails_its_check_with_the_request(fault: str) -> None:
    owner, detail, request, failing = EXPECTED[fault]
    plugin = BrokenPlugin(faults={fault}, token=TOKEN)
    with serve_app(plugin.app()) as url:
        status, report = run_kit(url, "--token", TOKEN, "--no-fuzz")
    port = url.rsplit(":", 1)[1]

    assert status == 1
    assert failed(report) == failing, explain(report)
    result = check(report, owner)
    assert detail in result["detail"], explain(report)
    assert request.format(port=port) in result["request"], explain(report)


def test_fuzzing_catches_errors_of_the_wrong_content_type() -> None:
    plugin = BrokenPlugin(faults={"plain_errors"})
    with serve_app(plugin.app()) as url:
        status, report = run_kit(url, "--max-examples", "5")

    assert status == 1
    fuzz = check(report, "fuzz")
    assert fuzz["status"] == "FAIL", explain(report)
    assert "Undocumented Content-Type" in fuzz["detail"]
    assert fuzz["request"].startswith(f"GET {url}/v1/")
