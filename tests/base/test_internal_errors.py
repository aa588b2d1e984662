"""A fault of the base's own (a bug) in one run is recorded and the loop goes on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from base_service.store import ingest
from tests.support.base import all_events, base_settings, run_now, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, make_event
from tests.support.servers import serve_app


def test_an_exception_in_a_run_is_recorded_with_its_traceback_and_the_loop_goes_on(
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken, broken_url = fake_plugin
    broken.events = [make_event(0)]
    healthy = FakePlugin(events=[make_event(1)])
    original = ingest.staged_rows

    # A bug cannot be produced on purpose through the real code, so rendering a page's rows is
    # replaced for one plugin with a function that raises, the way a defect would.
    def rendering_with_a_bug(
        dialect: Any, run_id: int, plugin_id: str, batch: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        if plugin_id == "broken":
            raise KeyError("a bug in the base")
        return original(dialect, run_id, plugin_id, batch)

    monkeypatch.setattr(ingest, "staged_rows", rendering_with_a_bug)
    with serve_app(healthy.app()) as healthy_url:
        urls = f"broken={broken_url} healthy={healthy_url}"
        with running_base(base_settings(sqlite_url, urls)) as client:
            view = wait_for_run(client, "broken")
            assert wait_for_run(client, "healthy")["state"] == "ok"
            monkeypatch.setattr(ingest, "staged_rows", original)
            again = run_now(client, "broken")
            events = sorted(e["id"] for e in all_events(client))
    assert view["state"] == "failing"
    assert view["last_run"]["error_kind"] == "internal_error"
    assert "KeyError" in view["last_error"]
    crashed = [r for r in caplog.records if getattr(r, "action", None) == "run_crashed"]
    assert crashed and crashed[0].exc_info is not None and crashed[0].plugin_id == "broken"
    assert crashed[0].levelno == logging.ERROR
    assert again["state"] == "ok"
    assert events == ["ev-0", "ev-1"]
