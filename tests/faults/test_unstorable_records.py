"""Records that pass the schema but cannot be stored as they are: one such record is a bad
record like any other (quarantined, the rest stored), not a failure of the whole run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults.helpers import assert_responsive, good_run, run_now, settings
from tests.support.base import all_events, running_base
from tests.support.fake_plugin import FakePlugin, make_event

# Each is valid by the contract's schema; the UTC instant of the first three is outside the
# years 1..9999, the next two are served in their own zone and fall outside them there, an
# all-day event on the last date has no following day to end on, and PostgreSQL text cannot
# hold a NUL character.
UNSTORABLE: dict[str, dict[str, Any]] = {
    "start-after-year-9999-in-utc": {"start": "9999-12-31T23:00:00-05:00", "end": None},
    "start-before-year-1-in-utc": {"start": "0001-01-01T01:00:00+05:00", "end": None},
    "updated-at-after-year-9999-in-utc": {"updated_at": "9999-12-31T23:30:00-01:00"},
    "start-after-year-9999-in-its-zone": {
        "start": "9999-12-31T20:00:00Z",
        "end": None,
        "timezone": "Asia/Tokyo",
    },
    "end-before-year-1-in-its-zone": {
        "start": "0001-01-01T01:00:00Z",
        "end": "0001-01-01T02:00:00Z",
        "timezone": "America/New_York",
    },
    "all-day-on-the-last-date": {"start": "9999-12-31T00:00:00Z", "end": None, "all_day": True},
    "nul-in-title": {"title": "Jazz\u0000Night"},
}


@pytest.mark.parametrize("case", list(UNSTORABLE))
def test_unstorable_record_does_not_fail_the_run(
    case: str, fake_plugin: tuple[FakePlugin, str], database_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(settings(database_url, url)) as client:
        before = [e["id"] for e in good_run(client)]
        plugin.events = [*plugin.events, make_event(7, **UNSTORABLE[case]), make_event(3)]
        view = run_now(client)
        assert_responsive(client)
        stored = [e["id"] for e in all_events(client)]
        run = view["last_run"]
        assert (view["state"], run["error_kind"]) == ("ok", None), run["error"]
        detail = client.get(f"/v1/plugins/fake/runs/{run['run_id']}").json()
    quarantined = [q["event_id"] for q in detail["quarantine"]]
    assert quarantined == ["ev-7"] or "ev-7" in stored  # quarantined, or stored as sent
    assert set(stored) - {"ev-7"} == {*before, "ev-3"}
