"""Opaque page cursors: the (start, id) sort key of the last event of a page."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import NamedTuple


class CursorError(ValueError):
    """The cursor was not issued by this service, or was altered."""

    def __init__(self) -> None:
        super().__init__("the cursor is not one this plugin issued")


class SortKey(NamedTuple):
    """Where an event sits in the listing: by start (in UTC), then by id."""

    start: datetime
    id: str


def encode_cursor(key: SortKey) -> str:
    """The cursor that resumes the listing strictly after `key`."""
    raw = json.dumps([key.start.astimezone(UTC).isoformat(), key.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key behind a cursor; CursorError if this service did not issue it."""
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(document, list):
            raise CursorError()
        start, event_id = document
        moment = datetime.fromisoformat(start)
    except (binascii.Error, ValueError, TypeError) as error:
        raise CursorError() from error
    if not isinstance(event_id, str) or moment.tzinfo is None:
        raise CursorError()
    return SortKey(moment.astimezone(UTC), event_id)
