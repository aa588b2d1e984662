"""How the status page words times: relative ages with the absolute UTC time, run durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from base_service.api.routes.status_page import duration, moment

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=-2), "just now"),
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=-42), "42 s ago"),
        (timedelta(minutes=-3, seconds=-20), "3 min ago"),
        (timedelta(hours=-2, minutes=-5), "2 h 5 min ago"),
        (timedelta(hours=-2), "2 h ago"),
        (timedelta(hours=-30), "30 h ago"),
        (timedelta(days=-9), "9 d ago"),
        (timedelta(seconds=55), "in 55 s"),
        (timedelta(hours=5, minutes=59), "in 5 h 59 min"),
        (timedelta(days=3), "in 3 d"),
    ],
)
def test_moment_is_relative_to_now(offset: timedelta, text: str) -> None:
    assert moment(NOW + offset, NOW).relative == text


def test_moment_carries_the_absolute_utc_time() -> None:
    lisbon_summer = datetime.fromisoformat("2030-07-01T21:30:00+01:00")
    shown = moment(lisbon_summer, NOW)
    assert shown.utc == "2030-07-01 20:30:00 UTC"
    assert shown.iso == "2030-07-01T20:30:00Z"


def test_duration_of_finished_and_running_runs() -> None:
    start = NOW - timedelta(minutes=10)
    assert duration(start, start + timedelta(seconds=1.25), NOW) == "1.2 s"
    assert duration(start, start + timedelta(seconds=42.4), NOW) == "42 s"
    assert duration(start, start + timedelta(seconds=75), NOW) == "1 min 15 s"
    assert duration(start, start + timedelta(hours=2), NOW) == "2 h"
    assert duration(start, None, NOW) == "10 min so far"
