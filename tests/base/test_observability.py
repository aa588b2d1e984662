"""Metrics and request ids, seen from outside."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.base import base_settings, run_now, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, fail_times, make_event


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_runs_events_retries_and_requests(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    plugin.faults["/v1/manifest"] = fail_times(1, 503, {"Retry-After": "0"})
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        plugin.faults["/v1/manifest"] = fail_times(9, 500)
        run_now(client, "fake")
        client.get("/v1/events")
        response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    fake = (("plugin", "fake"),)
    assert samples[("marquee_runs_total", (("outcome", "success"), *fake))] == 1
    assert samples[("marquee_runs_total", (("outcome", "failed"), *fake))] == 1
    assert samples[("marquee_plugin_retries_total", fake)] == 1
    assert samples[("marquee_events_total", (("change", "inserted"), *fake))] == 3
    assert samples[("marquee_run_duration_seconds_count", fake)] == 2
    assert samples[("marquee_plugin_up", fake)] == 0
    assert samples[("marquee_plugin_state", (("plugin", "fake"), ("state", "failing")))] == 1
    assert samples[("marquee_plugin_consecutive_failures", fake)] == 1
    assert samples[("marquee_plugin_last_success_timestamp_seconds", fake)] > 1.7e9
    request = (("method", "GET"), ("route", "/v1/events"), ("status", "200"))
    assert samples[("marquee_http_requests_total", request)] == 1


def test_every_request_gets_an_id_echoed(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = fake_plugin
    caplog.set_level(logging.INFO)
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        given = client.get("/v1/plugins", headers={"X-Request-ID": "abc-123"})
        made = client.get("/v1/plugins")
        hostile = client.get("/v1/plugins", headers={"X-Request-ID": "x\ty" * 40})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "x\ty" * 40
