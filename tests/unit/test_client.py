"""Retry-After parsing (pure) — the retry policy itself is exercised against real servers."""

from __future__ import annotations

from base_service.client import parse_retry_after

NOW = 1_800_000_000.0  # a fixed instant: 2027-01-15T08:00:00Z


def test_delta_seconds() -> None:
    assert parse_retry_after("30", NOW) == 30.0
    assert parse_retry_after(" 0 ", NOW) == 0.0


def test_http_date() -> None:
    assert parse_retry_after("Fri, 15 Jan 2027 08:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", NOW) == 0.0


def test_garbage_and_absent() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None
