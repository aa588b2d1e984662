"""A 503 whose Retry-After is over the cap defers the plugin like a 429 does, and says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.helpers import assert_fault, good_run, run_now, run_seconds, settings
from tests.support.base import running_base
from tests.support.fake_plugin import FakePlugin, fail_times, make_event


def test_long_retry_after_on_503_shows_rate_limited(
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # README, "Deferral" and the misbehaviour table: "answers 429/503 with a Retry-After over
    # the cap → ends the run at once, defers the next run to that time → rate_limited /
    # rate_limited, next_run_at".
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url, retry_after_cap_seconds=5)) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/events"] = fail_times(1_000, 503, {"Retry-After": "3600"})
        view = run_now(client)
        ahead = datetime.fromisoformat(view["next_run_at"]) - datetime.now(UTC)
        assert timedelta(minutes=55) < ahead <= timedelta(hours=1), view["next_run_at"]
        assert len(plugin.event_requests()) - calls == 1
        assert run_seconds(view) < 1
        assert_fault(client, caplog, view, kind="rate_limited", state="rate_limited", before=before)
