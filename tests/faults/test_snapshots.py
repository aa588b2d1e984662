"""Snapshot faults: a sudden shrink, another plugin at the URL, venues going, a new contract."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse

from tests.faults.helpers import (
    assert_fault,
    assert_responsive,
    good_run,
    run_now,
    settings,
)
from tests.support.base import all_events, plugin_view, running_base
from tests.support.fake_plugin import FakePlugin, make_event


@pytest.fixture
def plugin(fake_plugin: tuple[FakePlugin, str]) -> FakePlugin:
    """The fake plugin serving thirty events, fifty to a page."""
    fake, _ = fake_plugin
    fake.page_size = 50
    fake.events = [make_event(n) for n in range(30)]
    return fake


def test_empty_snapshot_is_held_back_until_forced(
    plugin: FakePlugin,
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, fake_plugin[1])) as client:
        before = good_run(client)
        assert len(before) == 30
        plugin.events = []
        view = run_now(client)
        assert_fault(client, caplog, view, kind="shrink_guard", before=before)
        assert "force=true" in view["last_error"]
        forced = run_now(client, force=True)
        assert forced["state"] == "ok", forced
        assert forced["last_run"]["counts"]["removed"] == 30
        assert forced["last_run"]["trigger"] == "manual"
        assert all_events(client) == []
        removed = all_events(client, include_removed="true")
        assert len(removed) == 30 and all(e["removed_at"] for e in removed)
        assert_responsive(client)


def test_small_shrink_is_applied(
    plugin: FakePlugin, fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    with running_base(settings(sqlite_url, fake_plugin[1])) as client:
        good_run(client)
        plugin.events = plugin.events[3:]  # 10% fewer
        view = run_now(client)
        assert view["state"] == "ok", view
        assert view["last_run"]["counts"]["removed"] == 3
        assert [e["id"] for e in all_events(client)] == [f"ev-{n}" for n in range(3, 30)]


def test_changed_plugin_id_is_held_back_until_forced(
    plugin: FakePlugin,
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def impostor(_: Request) -> JSONResponse:
        return JSONResponse({**plugin.manifest(), "plugin_id": "someone-else"})

    with running_base(settings(sqlite_url, fake_plugin[1])) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.faults["/v1/manifest"] = impostor
        plugin.events = [make_event(n, title="Not ours") for n in range(30)]
        view = run_now(client)
        assert_fault(client, caplog, view, kind="identity_changed", before=before)
        assert view["manifest"]["plugin_id"] == "fake"
        assert len(plugin.event_requests()) == calls  # held back before any page was read
        forced = run_now(client, force=True)
        assert forced["state"] == "ok", forced
        assert forced["manifest"]["plugin_id"] == "someone-else"
        assert {e["title"] for e in all_events(client)} == {"Not ours"}


def test_venue_dropped_from_the_manifest_disappears(
    plugin: FakePlugin, fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    annex = {"id": "annex", "name": "The Annex", "timezone": "Europe/Lisbon"}
    plugin.venues = [*plugin.venues, annex]
    plugin.events.append(make_event(99, venue="annex"))
    with running_base(settings(sqlite_url, fake_plugin[1])) as client:
        before = good_run(client)
        venues = client.get("/v1/venues").json()["items"]
        assert sorted(v["id"] for v in venues) == ["annex", "hall"]
        plugin.venues = plugin.venues[:1]  # the annex's event is still sent
        view = run_now(client)
        assert view["state"] == "ok", view
        assert view["manifest"]["venue_count"] == 1
        assert [v["id"] for v in client.get("/v1/venues").json()["items"]] == ["hall"]
        assert client.get("/v1/venues/fake/annex").status_code == 404
        run = view["last_run"]
        assert (run["counts"]["quarantined"], run["counts"]["removed"]) == (1, 1)
        detail = client.get(f"/v1/plugins/fake/runs/{run['run_id']}").json()
        assert [q["event_id"] for q in detail["quarantine"]] == ["ev-99"]
        assert "annex" in detail["quarantine"][0]["reason"]
        after = [e["id"] for e in all_events(client)]
        assert after == [e["id"] for e in before if e["venue_id"] == "hall"]
        assert_responsive(client)


def test_other_contract_major_version_is_incompatible(
    plugin: FakePlugin,
    fake_plugin: tuple[FakePlugin, str],
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with running_base(settings(sqlite_url, fake_plugin[1])) as client:
        before = good_run(client)
        calls = len(plugin.event_requests())
        plugin.contract_version = "2.0"
        view = run_now(client)
        assert_fault(client, caplog, view, kind="incompatible", state="incompatible", before=before)
        assert "2.0" in view["last_error"]
        assert len(plugin.event_requests()) == calls  # not called further
        assert plugin_view(client, "fake")["manifest"]["contract_version"] == "1.0"
