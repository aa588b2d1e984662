"""Bad records: quarantined one by one with a reason, while the good ones are stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.helpers import assert_fault, assert_responsive, good_run, run_now, settings
from tests.support.base import all_events, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, make_event


def naive_start() -> dict[str, Any]:
    event = make_event(50)
    event["start"] = "2030-02-20T20:00:00"
    event["end"] = None
    return event


def without_id() -> dict[str, Any]:
    event = make_event(51)
    del event["id"]
    return event


# (a bad record, the id its quarantine entry carries, a word its reason contains)
BAD_RECORDS = {
    "naive-datetime": (naive_start, "ev-50", "timezone"),
    "unknown-status": (lambda: make_event(52, status="sold-out"), "ev-52", "status"),
    "missing-id": (without_id, None, "id"),
    "duplicate-id": (lambda: make_event(1, title="Second copy"), "ev-1", "duplicate"),
    "oversized-title": (lambda: make_event(53, title="x" * 5000), "ev-53", "title"),
    "end-before-start": (
        lambda: make_event(54, end="2030-02-24T18:00:00+00:00"),
        "ev-54",
        "end is before start",
    ),
    "unknown-venue": (lambda: make_event(55, venue="elsewhere"), "ev-55", "elsewhere"),
}


def stable(event: dict[str, Any]) -> dict[str, Any]:
    """An event as served, without the fields that record when the base last saw it."""
    return {k: v for k, v in event.items() if k not in {"last_seen_at", "last_run_id"}}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_record_is_quarantined_and_the_rest_stored(
    case: str, fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    make_bad, bad_id, reason_word = BAD_RECORDS[case]
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url)) as client:
        before = {e["id"]: e for e in good_run(client)}
        plugin.events = [*plugin.events, make_bad(), make_event(3)]
        view = run_now(client)
        assert view["state"] == "ok", view
        run = view["last_run"]
        assert run["counts"]["quarantined"] == 1
        assert run["counts"]["inserted"] == 1
        detail = client.get(f"/v1/plugins/fake/runs/{run['run_id']}").json()
        assert_responsive(client)
        after = {e["id"]: e for e in all_events(client)}
    [entry] = detail["quarantine"]
    assert entry["event_id"] == bad_id
    assert reason_word in entry["reason"], entry
    assert sorted(after) == ["ev-0", "ev-1", "ev-2", "ev-3"]
    for event_id, event in before.items():
        assert stable(after[event_id]) == stable(event)


def test_every_bad_record_at_once(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> None:
    plugin, url = fake_plugin
    good = [make_event(n) for n in range(len(BAD_RECORDS) + 1)]
    plugin.events = good + [make_bad() for make_bad, _, _ in BAD_RECORDS.values()]
    plugin.page_size = 5
    with running_base(settings(sqlite_url, url)) as client:
        view = wait_for_run(client, "fake")
        assert view["state"] == "ok", view
        detail = client.get(f"/v1/plugins/fake/runs/{view['last_run']['run_id']}").json()
        stored = {e["id"]: e["title"] for e in all_events(client)}
    assert view["last_run"]["counts"]["quarantined"] == len(BAD_RECORDS)
    reasons = [(q["event_id"], q["reason"]) for q in detail["quarantine"]]
    assert len(reasons) == len(BAD_RECORDS)
    for _, bad_id, word in BAD_RECORDS.values():
        assert any(eid == bad_id and word in reason for eid, reason in reasons), (bad_id, word)
    assert stored == {e["id"]: e["title"] for e in good}  # the first of a duplicate id wins


def test_mostly_bad_records_fail_the_run(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(sqlite_url, url)) as client:
        before = good_run(client)
        bad = [make_event(n, venue="elsewhere") for n in range(10, 14)]
        plugin.events = [*plugin.events, make_event(3), *bad]  # 4 of 8 good: over the 0.5 ratio
        plugin.events.append(make_event(14, status="sold-out"))
        view = run_now(client)
        assert_fault(client, caplog, view, kind="too_many_invalid_events", before=before)
        detail = client.get(f"/v1/plugins/fake/runs/{view['last_run']['run_id']}").json()
    assert view["last_run"]["counts"]["quarantined"] == 5
    assert len(detail["quarantine"]) == 5
