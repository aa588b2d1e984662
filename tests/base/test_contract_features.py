"""Contract 1.1 features against a real base: incremental sync, ETag, version ranges."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any

from fastapi import Request, Response
from sqlalchemy.engine import make_url

from tests.support.base import all_events, base_settings, run_now, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, make_event


def _json(document: dict[str, Any], **headers: str) -> Response:
    return Response(json.dumps(document), media_type="application/json", headers=headers)


class SyncingPlugin:
    """Answers with a full snapshot and a token; given a token it knows, with changes only."""

    def __init__(self, plugin: FakePlugin) -> None:
        self.plugin = plugin
        self.changes: dict[str, dict[str, Any]] = {}  # accepted token -> change set
        self.tokens_seen: list[str | None] = []
        plugin.faults["/v1/events"] = self.answer
        original = plugin.manifest
        plugin.manifest = lambda: {  # type: ignore[method-assign]
            **original(),
            "contract_version": "1.1",
            "capabilities": ["incremental_sync"],
        }

    def answer(self, request: Request) -> Response:
        token = request.query_params.get("sync_token")
        if request.query_params.get("cursor") is None:
            self.tokens_seen.append(token)
        if token in self.changes:
            return _json(self.changes[token])
        page = self.plugin.page(request.query_params.get("cursor"), 100)
        if page["next_cursor"] is None:
            page["sync_token"] = f"after-{len(self.tokens_seen)}"
        return _json({**page, "mode": "full"})


def test_incremental_sync_applies_changes_and_falls_back_to_snapshots(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(4)]
    syncing = SyncingPlugin(plugin)
    syncing.changes["after-1"] = {
        "mode": "changes",
        "events": [make_event(1, title="Moved"), make_event(9)],
        "removed_ids": ["ev-0"],
        "next_cursor": None,
        "sync_token": "after-2",
    }
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        changed = run_now(client, "fake")["last_run"]["counts"]
        after_changes = {e["id"]: e["title"] for e in all_events(client)}
        plugin.events = [make_event(2), make_event(9)]  # "after-2" is not accepted: full answer
        full = run_now(client, "fake")["last_run"]["counts"]
        after_full = sorted(e["id"] for e in all_events(client))
    assert syncing.tokens_seen == [None, "after-1", "after-2"]
    assert (changed["inserted"], changed["updated"], changed["removed"]) == (1, 1, 1)
    # ev-2 and ev-3 are absent from the change set, yet kept: a change set is not a snapshot.
    assert after_changes == {"ev-1": "Moved", "ev-2": "Show 2", "ev-3": "Show 3", "ev-9": "Show 9"}
    assert full["removed"] == 2
    assert after_full == ["ev-2", "ev-9"]


def test_a_change_set_without_a_token_is_a_contract_violation(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.faults["/v1/events"] = lambda _: _json(
        {"mode": "changes", "events": [], "removed_ids": [], "next_cursor": None}
    )
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["last_run"]["error_kind"] == "contract_violation"


def test_an_unchanged_source_costs_one_304(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(5)]
    tag = '"snapshot-1"'

    def conditional(request: Request) -> Response | None:
        if request.query_params.get("cursor"):
            return None
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304)
        return _json(plugin.page(None, 2), ETag=tag)

    plugin.faults["/v1/events"] = conditional
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        requests_before = len(plugin.event_requests())
        view = run_now(client, "fake")
        events = all_events(client)
    assert view["state"] == "ok" and view["last_run"]["outcome"] == "success"
    assert view["last_run"]["counts"]["removed"] == 0
    assert len(plugin.event_requests()) - requests_before == 1
    assert len(events) == 5


def test_a_contract_range_that_includes_1x_is_spoken(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    plugin.contract_version = "2.0"
    original = plugin.manifest
    plugin.manifest = lambda: {  # type: ignore[method-assign]
        **original(),
        "contract_versions": {"min": "1.1", "max": "2.0"},
    }
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["state"] == "ok"


def test_a_change_set_over_events_of_unknown_length_keeps_them_unknown(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    """Events stored before runs recorded the longest event (an older version) have no known
    length; a change set names only some events, so its own longest says nothing of theirs,
    and a `from` window must still find a long one still going on."""
    plugin, url = fake_plugin
    festival = make_event(0, id="festival", end="2030-03-01T00:00:00+00:00")  # two months
    plugin.events = [festival, make_event(1)]
    syncing = SyncingPlugin(plugin)
    syncing.changes["after-1"] = {
        "mode": "changes",
        "events": [make_event(40)],
        "removed_ids": [],
        "next_cursor": None,
        "sync_token": "after-2",
    }
    window = {"from": "2030-02-01T00:00:00Z"}
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        database = make_url(sqlite_url).database
        with contextlib.closing(sqlite3.connect(str(database))) as db, db:
            db.execute("UPDATE plugins SET max_event_seconds = NULL")  # as an older version left it
        assert run_now(client, "fake")["last_run"]["counts"]["inserted"] == 1
        listed = [e["id"] for e in all_events(client, **window)]
    assert listed == ["festival", "ev-40"]
