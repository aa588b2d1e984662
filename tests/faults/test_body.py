"""Body faults: not JSON, the wrong JSON, too much of it, and walks that never end."""

from __future__ import annotations

import itertools

import pytest
from fastapi import Request

from tests.faults.helpers import (
    assert_fault,
    good_run,
    run_now,
    run_seconds,
    settings,
)
from tests.support.base import running_base, wait_until
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.plugin_faults import always, body, page
from tests.support.raw_plugin import RawPlugin

JSON = "application/json"
CAP = 2048  # MAX_RESPONSE_BYTES for the size tests


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        pytest.param(b"<!doctype html><html><body>Welcome!</body></html>", "text/html", id="html"),
        pytest.param(b'{"events": [{"id": "ev-9", "venue_id": "ha', JSON, id="cut"),
        pytest.param(b'[{"id": "ev-9"}]', JSON, id="array"),
        pytest.param(b'{"items": [], "next": null}', JSON, id="other-object"),
        pytest.param(b'{"events": []}', JSON, id="no-next-cursor"),
        pytest.param(b'{"events": {}, "next_cursor": null}', JSON, id="events-object"),
        pytest.param(b"\xff\xfe not utf-8", JSON, id="not-utf8"),
    ],
)
def test_bad_body_is_a_contract_violation(
    content: bytes,
    media_type: str,
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url)) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/events"] = always(body(content, media_type))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="contract_violation", before=before)
    assert len(plugin.event_requests()) - calls == 1  # a broken contract is not retried


@pytest.mark.parametrize("behaviour", ["oversized_with_length", "oversized_no_length"])
def test_body_over_the_size_cap_is_cut_off(
    behaviour: str, raw_plugin: RawPlugin, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_base(settings(sqlite_url, raw_plugin.url, max_response_bytes=CAP)) as client:
        before = good_run(client)
        raw_plugin.behaviour = behaviour
        view = run_now(client)
        assert_fault(client, caplog, view, kind="response_too_large", before=before)
        # The server saw the client hang up long before the 64 MiB body was out.
        sent = wait_until(raw_plugin.hangups_seen, timeout=5, what="the client to hang up")
    assert sent[0] < raw_plugin.oversize_bytes // 4
    assert run_seconds(view) < 2
    assert len(raw_plugin.events_requests()) == 2  # the good run's, and one: not retried
    assert str(CAP) in view["last_error"]


def test_too_many_pages(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.page_size = 1
    plugin.events = [make_event(n) for n in range(3)]  # three pages: exactly the cap, fine
    with running_base(settings(sqlite_url, url, max_pages_per_run=3)) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.events.append(make_event(3))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="limit_exceeded", before=before)
    assert len(plugin.event_requests()) - calls == 3
    assert "MAX_PAGES_PER_RUN" in view["last_error"]


def test_too_many_events(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(4)]  # exactly the cap, fine
    with running_base(settings(sqlite_url, url, max_events_per_run=4)) as client:
        before = good_run(client)
        plugin.events.append(make_event(4))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="limit_exceeded", before=before)
    assert "MAX_EVENTS_PER_RUN" in view["last_error"]


def test_repeated_cursor_fails_at_once(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url)) as client:  # page cap: the default 2000
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/events"] = always(page([make_event(9)], lambda _: "again"))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="limit_exceeded", before=before)
    assert len(plugin.event_requests()) - calls == 2
    assert "repeated" in view["last_error"]


def test_endless_cursor_stops_at_the_page_cap(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    fresh = itertools.count()

    def new_cursor(_: Request) -> str:
        return f"c{next(fresh)}"

    with running_base(settings(sqlite_url, url, max_pages_per_run=5)) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/events"] = always(page([], new_cursor))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="limit_exceeded", before=before)
    assert len(plugin.event_requests()) - calls == 5
    assert "MAX_PAGES_PER_RUN" in view["last_error"]
