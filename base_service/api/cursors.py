"""Opaque keyset cursors for the event listing.

A cursor holds the last row's sort key and a digest of the listing's filters: it continues the
listing it came from, and a cursor sent with other filters (another venue, another window) is
refused rather than silently skipping what the other listing holds before the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime

from base_service.api.problems import ProblemError
from base_service.store.reads import EventFilter, EventKey


def encode_cursor(key: EventKey, filters: EventFilter) -> str:
    """Encode the last row's sort key, for a listing with these filters, as an opaque
    URL-safe string."""
    start, plugin_id, event_id = key
    raw = json.dumps(
        [start.isoformat(), plugin_id, event_id, _digest(filters)], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: EventFilter) -> EventKey:
    """Decode a cursor for a listing with these filters; a malformed cursor, or one from a
    listing with other filters, is the client's error (400)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, plugin_id, event_id, digest = json.loads(raw)
        when = datetime.fromisoformat(start)
        if when.tzinfo is None or not all(
            isinstance(value, str) for value in (plugin_id, event_id, digest)
        ):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError):
        raise ProblemError(400, "cursor is not one this API returned") from None
    if digest != _digest(filters):
        raise ProblemError(
            400,
            "cursor belongs to a listing with other filters: send it with the filters of the "
            "page it came from, or start again without a cursor",
        )
    return when, plugin_id, event_id


def _digest(filters: EventFilter) -> str:
    """A short digest of what a listing selects (not its page size); equal instants written
    with different offsets, and statuses in any order, select alike."""

    def instant(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    selected = [
        filters.plugin_id,
        filters.venue_id,
        instant(filters.start),
        instant(filters.end),
        sorted(set(filters.statuses)),
        filters.text,
        filters.include_removed,
    ]
    return hashlib.sha256(json.dumps(selected).encode()).hexdigest()[:16]
