"""cursors.py: cursors round-trip, and anything else is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from example_plugin_service.cursors import CursorError, SortKey, decode_cursor, encode_cursor


def test_round_trip_normalises_to_utc() -> None:
    start = datetime(2027, 4, 1, 20, tzinfo=timezone(timedelta(hours=1)))

    key = decode_cursor(encode_cursor(SortKey(start, "hall/ü/20270401T190000Z")))

    assert key == SortKey(datetime(2027, 4, 1, 19, tzinfo=UTC), "hall/ü/20270401T190000Z")
    assert key.start.tzinfo == UTC


def test_cursor_is_url_safe() -> None:
    cursor = encode_cursor(SortKey(datetime(2027, 1, 1, tzinfo=UTC), "?>?>?>" * 20))

    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "e30",  # {}
        b64(b"[1, 2]"),
        b64(b'{"s": "2027-01-01T00:00:00", "i": "x"}'),  # no offset
        b64(b'{"s": "yesterday", "i": "x"}'),
        b64(b'{"s": "2027-01-01T00:00:00Z", "i": 3}'),
        b64(b'{"s": "2027-01-01T00:00:00Z", "i": "x", "extra": 1}'),
        b64(b"\xff\xfe"),
    ],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(cursor)
