"""Scheduling arithmetic with fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from base_service import schedule

NOW = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # the night Europe changes to summer time


def test_interval_precedence() -> None:
    assert schedule.effective_interval(60, 3600, 21600) == 60
    assert schedule.effective_interval(None, 3600, 21600) == 3600
    assert schedule.effective_interval(None, None, 21600) == 21600


def test_next_slot_is_on_a_stable_grid_after_now() -> None:
    slot = schedule.next_slot("ics", 3600, NOW)
    assert NOW < slot <= NOW + timedelta(hours=1)
    # The same grid whatever instant it is asked from: restarts do not shift it.
    assert schedule.next_slot("ics", 3600, slot - timedelta(seconds=1)) == slot
    assert schedule.next_slot("ics", 3600, slot) == slot + timedelta(hours=1)
    assert schedule.next_slot("ics", 3600, NOW + timedelta(minutes=59, seconds=59)) in (
        slot,
        slot + timedelta(hours=1),
    )


def test_plugins_are_spread_over_the_interval() -> None:
    slots = {schedule.next_slot(f"plugin-{n}", 3600, NOW) for n in range(100)}
    assert len(slots) > 90
    minutes = {slot.minute for slot in slots}
    assert len(minutes) > 40


def test_first_run_is_soon_and_spread() -> None:
    firsts = [schedule.first_run_at(f"p{n}", NOW, 5.0) for n in range(20)]
    assert all(NOW <= first < NOW + timedelta(seconds=5) for first in firsts)
    assert len(set(firsts)) == 20
    assert schedule.first_run_at("p1", NOW, 5.0) == firsts[1]


def test_failures_back_off_doubling_up_to_the_interval() -> None:
    delays = [(schedule.retry_at(n, 3600, 60, NOW) - NOW).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert schedule.retry_at(10_000, 3600, 60, NOW) == NOW + timedelta(hours=1)


def test_due_excludes_running_and_future_plugins_earliest_first() -> None:
    runs = {
        "late": NOW - timedelta(hours=5),
        "now": NOW,
        "busy": NOW - timedelta(hours=9),
        "later": NOW + timedelta(seconds=1),
        "unknown": None,
    }
    assert schedule.due(runs, {"busy"}, NOW) == ["late", "now"]
    assert schedule.seconds_until_next(runs, {"busy", "late", "now"}, NOW) == 1.0
    assert schedule.seconds_until_next({}, set(), NOW) is None


def test_a_long_downtime_gives_one_catch_up_run() -> None:
    runs = {"ics": NOW - timedelta(days=3)}
    assert schedule.due(runs, set(), NOW) == ["ics"]
    after = schedule.next_slot("ics", 3600, NOW)
    assert schedule.due({"ics": after}, set(), NOW) == []
