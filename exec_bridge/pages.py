"""One page of a result: keyset pagination over (start, id), with the contract's filters."""

from __future__ import annotations

from datetime import UTC, datetime

from exec_bridge.cursors import SortKey, encode_cursor
from exec_bridge.generated.plugin_api import Event, EventsPage
from exec_bridge.result import Result


class UnknownVenueError(LookupError):
    """The request names a venue the manifest does not list."""

    def __init__(self, venue_id: str) -> None:
        super().__init__(f"no venue has the id {venue_id!r}")


def page(
    result: Result,
    *,
    limit: int,
    venue_id: str | None = None,
    start_from: datetime | None = None,
    until: datetime | None = None,
    after: SortKey | None = None,
) -> EventsPage:
    """Up to `limit` events strictly after the key `after` that overlap [from, to).

    An event overlaps when it ends at or after `from` (without an end: starts at or after it)
    and starts before `to`.
    """
    listing = result.everything
    if venue_id is not None:
        if venue_id not in result.by_venue:
            raise UnknownVenueError(venue_id)
        listing = result.by_venue[venue_id]
    chosen: list[Event] = []
    for event in listing.after(after):
        if until is not None and event.start >= until:
            break  # in start order: nothing later starts before `to`
        if start_from is not None and (event.end or event.start) < start_from:
            continue
        if len(chosen) == limit:
            last = chosen[-1]
            return EventsPage(
                events=chosen,
                next_cursor=encode_cursor(SortKey(last.start.astimezone(UTC), last.id)),
            )
        chosen.append(event)
    return EventsPage(events=chosen, next_cursor=None)
