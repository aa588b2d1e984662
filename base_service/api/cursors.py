"""Opaque keyset cursors for the event listing."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from base_service.api.problems import ProblemError
from base_service.store.reads import EventKey


def encode_cursor(key: EventKey) -> str:
    """Encode the last row's sort key as an opaque URL-safe string."""
    start, plugin_id, event_id = key
    raw = json.dumps([start.isoformat(), plugin_id, event_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> EventKey:
    """Decode a cursor; a malformed one is the client's error (400)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, plugin_id, event_id = json.loads(raw)
        when = datetime.fromisoformat(start)
        if when.tzinfo is None or not isinstance(plugin_id, str) or not isinstance(event_id, str):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError):
        raise ProblemError(400, "cursor is not one this API returned") from None
    return when, plugin_id, event_id
