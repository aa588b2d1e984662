"""Opaque page cursors: the sort key (start, id) of the last event of a page."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import NamedTuple


class CursorError(ValueError):
    """The cursor was not issued by this plugin, or was altered."""


class SortKey(NamedTuple):
    """Where an event sits in the listing order: by start in UTC, then by id."""

    start: datetime
    id: str


def encode_cursor(key: SortKey) -> str:
    """The cursor that continues the listing strictly after key."""
    document = {"s": key.start.astimezone(UTC).isoformat(), "i": key.id}
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key a cursor stands for; CursorError if it is not one this plugin issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise CursorError("the cursor is not one this plugin issued") from error
    if not isinstance(document, dict) or set(document) != {"s", "i"}:
        raise CursorError("the cursor is not one this plugin issued")
    start, event_id = document["s"], document["i"]
    if not isinstance(start, str) or not isinstance(event_id, str):
        raise CursorError("the cursor is not one this plugin issued")
    try:
        moment = datetime.fromisoformat(start)
    except ValueError as error:
        raise CursorError("the cursor is not one this plugin issued") from error
    if moment.tzinfo is None:
        raise CursorError("the cursor is not one this plugin issued")
    return SortKey(moment.astimezone(UTC), event_id)
