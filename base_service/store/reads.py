"""Queries the public API serves: events with filters and keyset pagination, and venues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, tuple_
from sqlalchemy.engine import Connection, RowMapping

from base_service import event_json
from base_service.store.database import Store
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


# What listings show: every column for the feeds (their DTSTAMP is `changed_at`), or the
# stored document and what runs change for the JSON API (see event_json.py). Both hold the
# keyset (start, plugin, id).
ALL_COLUMNS = tuple(c for c in events.c if c.name != "document")
DOCUMENT_COLUMNS = tuple(
    events.c[name]
    for name in ("document", "start_at", "plugin_id", "event_id", *event_json.RUN_FIELDS)
)


@dataclass(frozen=True)
class Listing:
    """One page of events, the key to continue after (or None), and the facts about the
    plugins the listing could draw from, read in the same connection (see `plugin_facts`)."""

    rows: list[RowMapping]
    next_key: EventKey | None
    plugins: dict[str, RowMapping]


def _facts_query(plugin_id: str | None) -> Select[Any]:
    c = plugins.c
    query = select(
        c.plugin_id,
        c.last_success_at,
        c.consecutive_failures,
        c.manifest["refresh_interval_seconds"].as_integer().label("refresh_interval_seconds"),
        c.max_event_seconds,
    )
    return query if plugin_id is None else query.where(c.plugin_id == plugin_id)


def plugin_facts(conn: Connection, plugin_id: str | None = None) -> dict[str, RowMapping]:
    """What listings need to know about every (or one) plugin, by id: its last success,
    failures in a row and declared interval (for freshness), and its longest event.
    A read for `Store.read`."""
    rows = conn.execute(_facts_query(plugin_id)).mappings().all()
    return {row["plugin_id"]: row for row in rows}


def _before(instant: datetime, seconds: float) -> datetime | None:
    """`seconds` before `instant`; None when that is before the year 1 (no bound needed)."""
    try:
        return instant - timedelta(seconds=seconds)
    except OverflowError:
        return None


def _longest_event(facts: dict[str, RowMapping]) -> float | None:
    """The longest event any of these plugins stored, in seconds; None if unknown."""
    lengths = [row["max_event_seconds"] for row in facts.values()]
    if any(length is None for length in lengths):
        return None
    return float(max(lengths, default=0))


async def list_events(
    store: Store,
    filters: EventFilter,
    *,
    limit: int,
    after: EventKey | None,
    columns: Sequence[ColumnElement[Any]] = ALL_COLUMNS,
) -> Listing:
    """One page of events ordered by (start, plugin, id), in one connection."""
    # A text filter cannot use an index: such a listing may scan every event.
    scans = filters.text is not None
    return await store.read(_list_events, filters, limit, after, columns, scans=scans)


def _list_events(
    conn: Connection,
    filters: EventFilter,
    limit: int,
    after: EventKey | None,
    columns: Sequence[ColumnElement[Any]],
) -> Listing:
    c = events.c
    query = select(*columns).where(*_conditions(filters))
    if after is not None:
        query = query.where(tuple_(c.start_at, c.plugin_id, c.event_id) > tuple_(*after))
    query = query.order_by(c.start_at, c.plugin_id, c.event_id).limit(limit + 1)
    facts = plugin_facts(conn, filters.plugin_id)
    if filters.start is not None:
        # "Still going on at `from`" cannot use an index by itself; knowing the longest
        # event bounds the start from below, so the query walks only the window.
        longest = _longest_event(facts)
        earliest = _before(filters.start, longest) if longest is not None else None
        if earliest is not None:
            query = query.where(c.start_at >= earliest)
    rows = list(conn.execute(query).mappings().all())
    if len(rows) <= limit:
        return Listing(rows, None, facts)
    last = rows[limit - 1]
    return Listing(rows[:limit], (last["start_at"], last["plugin_id"], last["event_id"]), facts)


async def list_venues(
    store: Store, plugin_id: str | None = None, venue_id: str | None = None
) -> list[RowMapping]:
    """Venues known from the plugins' manifests, current ones only."""
    return await store.read(_list_venues, plugin_id, venue_id)


def _list_venues(conn: Connection, plugin_id: str | None, venue_id: str | None) -> list[RowMapping]:
    query = select(venues).where(venues.c.removed_at.is_(None))
    if plugin_id is not None:
        query = query.where(venues.c.plugin_id == plugin_id)
    if venue_id is not None:
        query = query.where(venues.c.venue_id == venue_id)
    query = query.order_by(venues.c.plugin_id, venues.c.venue_id)
    return list(conn.execute(query).mappings().all())
