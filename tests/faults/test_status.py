"""Error statuses: which are retried, how Retry-After is honoured, what problem types change."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.helpers import (
    FAST,
    assert_fault,
    assert_responsive,
    fault_warnings,
    good_run,
    run_now,
    run_seconds,
    settings,
)
from tests.support.base import all_events, running_base
from tests.support.fake_plugin import FakePlugin, fail_times, make_event
from tests.support.plugin_faults import always, first, redirect, timed, typed_problem, with_hop
from tests.support.servers import serve_app

TRANSIENT = "urn:marquee:problem:transient"
RATE_LIMITED = "urn:marquee:problem:rate-limited"
UPSTREAM = "urn:marquee:problem:upstream-unavailable"
MISCONFIGURED = "urn:marquee:problem:misconfigured"
AUTH = "urn:marquee:problem:auth"
ALWAYS = 1_000  # fail_times count that outlasts any run


@pytest.fixture
def plugin(fake_plugin: tuple[FakePlugin, str]) -> FakePlugin:
    """The fake plugin, serving three events over two pages."""
    fake, _ = fake_plugin
    fake.events = [make_event(n) for n in range(3)]
    return fake


@pytest.fixture
def plugin_url(fake_plugin: tuple[FakePlugin, str]) -> str:
    """The fake plugin's URL."""
    return fake_plugin[1]


def events_calls(plugin: FakePlugin) -> int:
    """How many /v1/events requests the plugin has had."""
    return len(plugin.event_requests())


def http_date(seconds_ahead: float) -> str:
    """An HTTP-date (RFC 9110 IMF-fixdate) this many seconds from now."""
    when = datetime.now(UTC) + timedelta(seconds=seconds_ahead)
    return email.utils.format_datetime(when, usegmt=True)


def test_500_is_not_retried(
    plugin: FakePlugin, plugin_url: str, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/events"] = fail_times(ALWAYS, 500)
        view = run_now(client)
        assert_fault(client, caplog, view, kind="http_error", before=before)
    assert events_calls(plugin) - calls == 1
    assert "500" in view["last_error"]


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_transient_statuses_are_retried(
    status: int,
    plugin: FakePlugin,
    plugin_url: str,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/events"] = fail_times(ALWAYS, status)
        view = run_now(client)
        assert_fault(client, caplog, view, kind="http_error", before=before)
    assert events_calls(plugin) - calls == FAST["retry_attempts"]
    assert str(status) in view["last_error"]


@pytest.mark.parametrize(
    ("status", "retry_after", "cap"),
    [
        pytest.param(503, "0", 0.2, id="503-retry-after-0"),
        pytest.param(429, "1", 5.0, id="429-retry-after-1s"),
        pytest.param(503, "http-date", 5.0, id="503-retry-after-http-date"),
    ],
)
def test_retry_after_is_honoured_then_the_run_succeeds(
    status: int,
    retry_after: str,
    cap: float,
    plugin: FakePlugin,
    plugin_url: str,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, plugin_url, retry_after_cap_seconds=cap)) as client:
        good_run(client)
        plugin.events.append(make_event(3))
        header = http_date(2) if retry_after == "http-date" else retry_after
        seen: list[float] = []
        plugin.faults["/v1/events"] = timed(fail_times(1, status, {"Retry-After": header}), seen)
        view = run_now(client)
        assert view["state"] == "ok", view
        assert [e["id"] for e in all_events(client)] == [f"ev-{n}" for n in range(4)]
        assert_responsive(client)
    # one refused page, then the walk again from that page: 2 pages of 3 events → 3 calls
    assert len(seen) == 3
    waited = seen[1] - seen[0]
    expected = {"0": 0.0, "1": 1.0, "http-date": 1.0}[retry_after]  # a date has 1 s resolution
    assert expected * 0.9 <= waited < expected + 2
    retries = [r for r in fault_warnings(caplog) if r.__dict__.get("action") == "plugin_call_retry"]
    assert len(retries) == 1


@pytest.mark.parametrize(
    ("status", "header", "problem_type"),
    [
        pytest.param(429, "3600", None, id="429-seconds"),
        pytest.param(429, "http-date", None, id="429-http-date"),
        pytest.param(503, "3600", RATE_LIMITED, id="503-rate-limited-problem"),
    ],
)
def test_long_retry_after_ends_the_run_and_defers_the_next(
    status: int,
    header: str,
    problem_type: str | None,
    plugin: FakePlugin,
    plugin_url: str,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    retry_after = {"Retry-After": http_date(3600) if header == "http-date" else header}
    with running_base(settings(sqlite_url, plugin_url, retry_after_cap_seconds=5)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        if problem_type is None:
            plugin.faults["/v1/events"] = fail_times(ALWAYS, status, retry_after)
        else:
            plugin.faults["/v1/events"] = always(typed_problem(status, problem_type, retry_after))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="rate_limited", state="rate_limited", before=before)
    assert events_calls(plugin) - calls == 1  # not waited out, not retried
    assert run_seconds(view) < 1
    ahead = datetime.fromisoformat(view["next_run_at"]) - datetime.now(UTC)
    assert timedelta(minutes=55) < ahead <= timedelta(hours=1), view["next_run_at"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "auth"), (404, "http_error"), (400, "http_error")],
)
def test_client_errors_are_not_retried(
    status: int,
    kind: str,
    plugin: FakePlugin,
    plugin_url: str,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/events"] = fail_times(ALWAYS, status)
        view = run_now(client)
        assert_fault(client, caplog, view, kind=kind, before=before)
    assert events_calls(plugin) - calls == 1


@pytest.mark.parametrize(
    ("status", "problem_type", "kind", "attempts"),
    [
        pytest.param(503, MISCONFIGURED, "misconfigured", 1, id="misconfigured-on-503"),
        pytest.param(503, AUTH, "auth", 1, id="auth-on-503"),
        pytest.param(500, TRANSIENT, "transient", FAST["retry_attempts"], id="transient-on-500"),
        pytest.param(
            503, UPSTREAM, "upstream_unavailable", FAST["retry_attempts"], id="upstream-on-503"
        ),
    ],
)
def test_problem_type_decides_over_status(
    status: int,
    problem_type: str,
    kind: str,
    attempts: int,
    plugin: FakePlugin,
    plugin_url: str,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/events"] = always(typed_problem(status, problem_type))
        view = run_now(client)
        assert_fault(client, caplog, view, kind=kind, before=before)
    assert events_calls(plugin) - calls == attempts


@pytest.fixture
def elsewhere() -> Iterator[tuple[FakePlugin, str]]:
    """A second plugin server, on another port, that must never be called: (state, URL)."""
    other = FakePlugin(events=[make_event(n) for n in range(3)])
    with serve_app(other.app()) as url:
        yield other, url


def test_redirect_to_another_port_is_refused(
    plugin: FakePlugin,
    plugin_url: str,
    elsewhere: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other, target = elsewhere
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/events"] = always(redirect(lambda r: f"{target}{with_hop(r)}"))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="redirect_refused", before=before)
    assert other.requests == []
    assert events_calls(plugin) - calls == 1


def test_redirect_to_another_host_name_is_refused(
    plugin: FakePlugin, plugin_url: str, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The same server under another name: were the redirect followed, it would see the request.
    port = plugin_url.rsplit(":", 1)[1]
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        plugin.faults["/v1/events"] = always(
            redirect(lambda r: f"http://localhost:{port}{with_hop(r)}")
        )
        view = run_now(client)
        assert_fault(client, caplog, view, kind="redirect_refused", before=before)
    assert not [query for query in plugin.event_requests() if query.get("hop") == "1"]
    assert "localhost" in view["last_error"]


def test_same_host_redirect_is_followed(
    plugin: FakePlugin, plugin_url: str, sqlite_url: str
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        good_run(client)
        calls = events_calls(plugin)
        plugin.events.append(make_event(3))
        plugin.faults["/v1/events"] = always(redirect(with_hop))
        view = run_now(client)
        assert view["state"] == "ok", view
        assert [e["id"] for e in all_events(client)] == [f"ev-{n}" for n in range(4)]
    followed = plugin.event_requests()[calls:]
    assert [query.get("hop") for query in followed] == [None, "1", None, "1"]


def test_a_fault_on_the_manifest_is_named_too(
    plugin: FakePlugin, plugin_url: str, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        calls = events_calls(plugin)
        plugin.faults["/v1/manifest"] = first(ALWAYS, typed_problem(503, MISCONFIGURED))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="misconfigured", before=before)
    assert events_calls(plugin) == calls


def test_retry_after_beyond_seven_days_defers_seven_days(
    plugin: FakePlugin, plugin_url: str, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    thirty_days = {"Retry-After": str(30 * 24 * 3600)}
    with running_base(settings(sqlite_url, plugin_url)) as client:
        before = good_run(client)
        plugin.faults["/v1/events"] = fail_times(ALWAYS, 429, thirty_days)
        view = run_now(client)
        assert_fault(client, caplog, view, kind="rate_limited", state="rate_limited", before=before)
    ahead = datetime.fromisoformat(view["next_run_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=5) < ahead <= timedelta(days=7)
