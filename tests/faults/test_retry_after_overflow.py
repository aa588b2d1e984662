"""A Retry-After too far ahead for a date-time is still a deferral, capped at seven days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.faults.helpers import assert_fault, good_run, request_run, settings
from tests.support.base import plugin_view, running_base, wait_until
from tests.support.fake_plugin import FakePlugin, fail_times, make_event


def finished_run(client: httpx.Client, after: int) -> dict[str, Any]:
    """The plugin's view once a run newer than `after` has ended (a run takes well under 5 s)."""

    def ended() -> dict[str, Any] | None:
        view = plugin_view(client, "fake")
        run = view["last_run"]
        done = run and run["run_id"] > after and run["outcome"] != "running"
        return view if done and not view["running"] else None

    result: dict[str, Any] = wait_until(ended, timeout=5, what="the run to be recorded as ended")
    return result


@pytest.mark.parametrize("seconds", ["999999999999", "9" * 30])
def test_absurd_retry_after_defers_seven_days(
    seconds: str,
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url)) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/events"] = fail_times(1_000, 429, {"Retry-After": seconds})
        view = finished_run(client, request_run(client))
        assert_fault(client, caplog, view, kind="rate_limited", state="rate_limited", before=before)
    assert len(plugin.event_requests()) - calls == 1
    ahead = datetime.fromisoformat(view["next_run_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=5) < ahead <= timedelta(days=7)
