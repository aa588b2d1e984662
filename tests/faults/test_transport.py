"""Transport faults: no connection, no answer, half an answer, an answer that never ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from tests.faults.helpers import (
    FAST,
    assert_fault,
    base_after_good_run,
    fault_warnings,
    good_run,
    run_now,
    run_now_watching,
    run_seconds,
    settings,
)
from tests.support.base import running_base
from tests.support.raw_plugin import BacklogNotFullError, RawPlugin
from tests.support.servers import free_port


def retry_warnings(caplog: pytest.LogCaptureFixture) -> int:
    """How many retries of a plugin call were logged for the plugin under test."""
    return sum(1 for r in fault_warnings(caplog) if r.__dict__.get("action") == "plugin_call_retry")


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(lambda: f"http://127.0.0.1:{free_port()}", id="connection-refused"),
        pytest.param(lambda: "http://marquee-nowhere.invalid", id="unresolvable-host"),
    ],
)
def test_no_connection_is_unreachable(
    address: Callable[[], str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with base_after_good_run(sqlite_url, address()) as (client, before):
        view = run_now(client)
        assert_fault(client, caplog, view, kind="unreachable", state="unreachable", before=before)
        assert retry_warnings(caplog) == FAST["retry_attempts"] - 1


def test_connect_timeout(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(RawPlugin("backlog_full"))
        except BacklogNotFullError as exc:
            pytest.skip(f"this kernel accepts into a full backlog, connects never hang: {exc}")
        with base_after_good_run(sqlite_url, url, connect_timeout_seconds=0.5) as (client, before):
            view = run_now_watching(client)
            assert_fault(client, caplog, view, kind="timeout", before=before)
    assert "ConnectTimeout" in view["last_error"]
    assert retry_warnings(caplog) == FAST["retry_attempts"] - 1
    assert run_seconds(view) >= 0.5 * FAST["retry_attempts"]


def test_connection_dropped_mid_body(
    raw_plugin: RawPlugin, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_base(settings(sqlite_url, raw_plugin.url)) as client:
        before = good_run(client)
        raw_plugin.behaviour = "drop_mid_body"
        view = run_now(client)
        assert_fault(client, caplog, view, kind="unreachable", state="unreachable", before=before)
    assert "RemoteProtocolError" in view["last_error"]
    assert len(raw_plugin.events_requests()) == 1 + FAST["retry_attempts"]


def test_headers_never_sent(
    raw_plugin: RawPlugin, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_base(settings(sqlite_url, raw_plugin.url, read_timeout_seconds=0.5)) as client:
        before = good_run(client)
        raw_plugin.behaviour = "accept_then_silence"
        view = run_now_watching(client)
        assert_fault(client, caplog, view, kind="timeout", before=before)
    assert "ReadTimeout" in view["last_error"]
    assert len(raw_plugin.events_requests()) == 1 + FAST["retry_attempts"]


def test_trickling_body_is_stopped_by_the_run_deadline(
    raw_plugin: RawPlugin, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    overrides = {"read_timeout_seconds": 1, "run_timeout_seconds": 2}
    with running_base(settings(sqlite_url, raw_plugin.url, **overrides)) as client:
        before = good_run(client)
        raw_plugin.behaviour = "trickle"
        view = run_now_watching(client)
        assert_fault(client, caplog, view, kind="timeout", before=before)
    assert "deadline" in view["last_error"]
    assert 2 <= run_seconds(view) < 4
    assert len(raw_plugin.events_requests()) == 2  # the good run's, and one that never ended
