"""Queries the public API serves: events with filters and keyset pagination, and venues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from base_service.store.tables import events, plugins, venues


@dataclass(frozen=True)
class EventFilter:
    """What a client asked for; every field optional."""

    plugin_id: str | None = None
    venue_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()
    text: str | None = None
    include_removed: bool = False


EventKey = tuple[datetime, str, str]


def _conditions(filters: EventFilter) -> list[ColumnElement[bool]]:
    c = events.c
    where: list[ColumnElement[bool]] = []
    if not filters.include_removed:
        where.append(c.removed_at.is_(None))
    if filters.plugin_id is not None:
        where.append(c.plugin_id == filters.plugin_id)
    if filters.venue_id is not None:
        where.append(c.venue_id == filters.venue_id)
    if filters.start is not None:
        # Overlap, not containment: a festival that began yesterday is still on.
        where.append(
            or_(c.end_at >= filters.start, and_(c.end_at.is_(None), c.start_at >= filters.start))
        )
    if filters.end is not None:
        where.append(c.start_at < filters.end)
    if filters.statuses:
        where.append(c.status.in_(filters.statuses))
    if filters.text:
        pattern = (
            "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        where.append(
            or_(c.title.ilike(pattern, escape="\\"), c.description.ilike(pattern, escape="\\"))
        )
    return where


async def _longest_event(conn: AsyncConnection, plugin_id: str | None) -> float | None:
    """The longest event any (or this) plugin stored, in seconds; None if unknown."""
    query = select(plugins.c.max_event_seconds)
    if plugin_id is not None:
        query = query.where(plugins.c.plugin_id == plugin_id)
    lengths = (await conn.execute(query)).scalars().all()
    if any(length is None for length in lengths):
        return None
    return float(max(lengths, default=0))


async def list_events(
    engine: AsyncEngine, filters: EventFilter, *, limit: int, after: EventKey | None
) -> tuple[list[RowMapping], EventKey | None]:
    """One page of events ordered by (start, plugin, id); the key to continue after, or None."""
    c = events.c
    query = select(events).where(*_conditions(filters))
    if after is not None:
        query = query.where(tuple_(c.start_at, c.plugin_id, c.event_id) > tuple_(*after))
    query = query.order_by(c.start_at, c.plugin_id, c.event_id).limit(limit + 1)
    async with engine.connect() as conn:
        if filters.start is not None:
            # "Still going on at `from`" cannot use an index by itself; knowing the longest
            # event bounds the start from below, so the query walks only the window.
            longest = await _longest_event(conn, filters.plugin_id)
            if longest is not None:
                query = query.where(c.start_at >= filters.start - timedelta(seconds=longest))
        rows = list((await conn.execute(query)).mappings().all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], (last["start_at"], last["plugin_id"], last["event_id"])


async def list_venues(
    engine: AsyncEngine, plugin_id: str | None = None, venue_id: str | None = None
) -> list[RowMapping]:
    """Venues known from the plugins' manifests, current ones only."""
    query = select(venues).where(venues.c.removed_at.is_(None))
    if plugin_id is not None:
        query = query.where(venues.c.plugin_id == plugin_id)
    if venue_id is not None:
        query = query.where(venues.c.venue_id == venue_id)
    query = query.order_by(venues.c.plugin_id, venues.c.venue_id)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).mappings().all())
