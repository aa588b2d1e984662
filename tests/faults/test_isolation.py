"""One hung plugin must not hold up the others, nor the API."""

from __future__ import annotations

from tests.faults.helpers import assert_responsive, good_run, run_now, timed_get
from tests.support.base import base_settings, plugin_view, running_base, wait_until
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.raw_plugin import RawPlugin
from tests.support.servers import serve_app


def test_hung_plugin_does_not_block_the_others(sqlite_url: str) -> None:
    healthy = FakePlugin(events=[make_event(n) for n in range(3)])
    hung = RawPlugin("accept_then_silence")
    overrides = {
        "max_concurrent_runs": 2,
        "read_timeout_seconds": 60,
        "run_timeout_seconds": 120,
        "shutdown_grace_seconds": 0,
    }
    with serve_app(healthy.app()) as healthy_url, hung as hung_url:
        urls = f"hung={hung_url} fake={healthy_url}"
        with running_base(base_settings(sqlite_url, urls, **overrides)) as client:
            wait_until(hung.events_requests, what="the hung plugin's events call")
            first = good_run(client, "fake")
            assert plugin_view(client, "hung")["running"]
            healthy.events.append(make_event(3))
            inserted = []
            for _ in range(2):
                view = run_now(client, "fake")
                assert view["state"] == "ok", view
                assert plugin_view(client, "hung")["running"], "the hung run ended early"
                inserted.append(view["last_run"]["counts"]["inserted"])
            assert inserted == [1, 0]
            assert len(first) == 3
            assert_responsive(client)
            for path in ("/v1/events", "/v1/plugins", "/v1/plugins/hung", "/v1/venues"):
                response, took = timed_get(client, path)
                assert response.status_code == 200, (path, response.text)
                assert took < 1, f"GET {path} took {took:.2f}s while a plugin hung"
            hung_view = plugin_view(client, "hung")
            assert hung_view["running"] and hung_view["state"] == "pending"
            assert len(hung.events_requests()) == 1  # still the one call it never answered
