"""Queries for the HTML status page: each venue's next few events and how many more follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, RowMapping

from base_service.store.tables import events

VenueKey = tuple[str, str]  # (plugin_id, venue_id)


@dataclass(frozen=True)
class Upcoming:
    """A venue's first events starting at or after a time, and how many start then in all."""

    rows: list[RowMapping]
    total: int


def upcoming_events(
    conn: Connection, venues: Sequence[VenueKey], now: datetime, per_venue: int
) -> dict[VenueKey, Upcoming]:
    """For each venue, its next `per_venue` current events starting at or after `now`.

    One indexed query per venue (plugin, venue, start), plus one count for them all.
    """
    if not venues:
        return {}
    c = events.c
    upcoming = (c.removed_at.is_(None), c.start_at >= now)
    plugin_ids = sorted({plugin_id for plugin_id, _ in venues})
    counts_query = (
        select(c.plugin_id, c.venue_id, func.count().label("n"))
        .where(*upcoming, c.plugin_id.in_(plugin_ids))
        .group_by(c.plugin_id, c.venue_id)
    )
    result: dict[VenueKey, Upcoming] = {}
    totals = {(row.plugin_id, row.venue_id): int(row.n) for row in conn.execute(counts_query).all()}
    for plugin_id, venue_id in venues:
        total = totals.get((plugin_id, venue_id), 0)
        rows: list[RowMapping] = []
        if total:
            query = (
                select(events)
                .where(*upcoming, c.plugin_id == plugin_id, c.venue_id == venue_id)
                .order_by(c.start_at, c.event_id)
                .limit(per_venue)
            )
            rows = list(conn.execute(query).mappings().all())
        result[(plugin_id, venue_id)] = Upcoming(rows=rows, total=max(total, len(rows)))
    return result
