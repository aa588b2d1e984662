"""An event's public JSON: rendered once when it is staged, completed when it is listed.

Building a page from rows used to cost about 40 µs an event: every column converted, a public
model built and validated, then serialised again. Most of what a client sees of an event
changes only when its plugin changes it, so that part (`document`: every `EventOut` field up to
`updated_at`) is rendered at staging, from the row exactly as the store keeps it, and stored
beside the event. A listing appends the fields that runs change (`first_seen_at` …) and the
freshness flag to each stored text and joins them.

The output is byte for byte what `EventOut.model_dump_json()` gives for the same row (the tests
hold it to that). A change to `EventOut`'s content fields therefore needs a migration that
renders the stored documents again, as migration 0002 first did.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import pydantic_core

from base_service.timezones import zone as zone_named

# The stored row's content fields, in `EventOut`'s order, under their public names.
CONTENT_FIELDS = (
    ("plugin_id", "plugin_id"),
    ("event_id", "id"),
    ("venue_id", "venue_id"),
    ("title", "title"),
    ("start_at", "start"),
    ("end_at", "end"),
    ("all_day", "all_day"),
    ("timezone", "timezone"),
    ("status", "status"),
    ("url", "url"),
    ("description", "description"),
    ("image_url", "image_url"),
    ("ticket_url", "ticket_url"),
    ("categories", "categories"),
    ("performers", "performers"),
    ("source_updated_at", "updated_at"),
)
# What runs change, appended at listing time, in `EventOut`'s order after the content.
RUN_FIELDS = ("first_seen_at", "last_seen_at", "last_run_id", "removed_at")


def utc(value: datetime | None) -> datetime | None:
    """`value` in UTC (itself when it is in UTC already)."""
    return None if value is None else value.astimezone(UTC)


def _local(value: datetime | None, zone: tzinfo | None) -> datetime | None:
    """`value` in `zone`; in UTC when there is no zone, or the zone would take it out of the
    years 1..9999 (validation quarantines such events; an older version stored some)."""
    if value is None or zone is None:
        return value
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value


def document(row: Mapping[str, Any]) -> str:
    """The content part of an event's public JSON, from its stored columns.

    `row` holds the content columns plus `plugin_id` and `event_id`; datetimes may carry any
    offset (they are stored as UTC, and served in the event's own zone when it has one).
    """
    zone = zone_named(row["timezone"])
    fields = {public: row[column] for column, public in CONTENT_FIELDS}
    fields["start"] = _local(utc(row["start_at"]), zone)
    fields["end"] = _local(utc(row["end_at"]), zone)
    fields["updated_at"] = utc(row["source_updated_at"])
    return pydantic_core.to_json(fields).decode()


def _tail(run_values: tuple[Any, ...], stale: bool) -> str:
    """The fields after the document's content, from the run fields' values and the
    freshness flag, as the rest of a JSON object: `,"first_seen_at":…,"stale":false}`."""
    tail = pydantic_core.to_json(dict(zip(RUN_FIELDS, run_values, strict=True))).decode()
    return f',{tail[1:-1]},"stale":{"true" if stale else "false"}}}'


# What a page reads of each row: the document, then what decides its tail (the run fields
# and the plugin), the first items of a row in that order.
_LISTED = operator.itemgetter(*range(len(RUN_FIELDS) + 2))


def _decoded_already(run_values: tuple[Any, ...]) -> tuple[Any, ...]:
    return run_values


def page(
    rows: Iterable[Sequence[Any]],
    stale: Mapping[str, bool],
    next_cursor: str | None,
    decode: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _decoded_already,
) -> bytes:
    """An `EventPage` as JSON, from rows whose first items are the document, the run fields
    (`RUN_FIELDS`) and the plugin id (`reads.DOCUMENT_COLUMNS`).

    `decode` turns a row's run-field values into Python values, datetimes in UTC; a page
    calls it once for each distinct set, so rows may hold them as the driver reads them.
    Equal times must be written alike (`00:00Z` and `01:00+01:00`
    are equal), and a page renders each distinct tail once."""
    # Events seen by the same runs share their tails.
    tails: dict[tuple[Any, ...], str] = {}
    items = []
    for row in rows:
        listed = _LISTED(row)
        key = listed[1:]  # the run fields and the plugin
        tail = tails.get(key)
        if tail is None:
            tail = tails[key] = _tail(decode(key[:-1]), stale.get(key[-1], False))
        # The document is a JSON object: its closing brace gives way to the tail.
        items.append(listed[0][:-1] + tail)
    cursor = pydantic_core.to_json(next_cursor).decode()
    return f'{{"items":[{",".join(items)}],"next_cursor":{cursor}}}'.encode()
