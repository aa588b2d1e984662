"""Queries the public API serves: events with filters and keyset pagination, and venues."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Connection, Dialect, Row, RowMapping
from sqlalchemy.types import NullType

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


def _pattern(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, its wildcards escaped (with a backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _parameters(
    filters: EventFilter, earliest: datetime | None, after: EventKey | None, limit: int
) -> dict[str, Any]:
    """A listing's parameters, by the names `_listing` binds; a filter not set is absent."""
    values = {
        "plugin": filters.plugin_id,
        "venue": filters.venue_id,
        "start": filters.start,
        "earliest": earliest,
        "end": filters.end,
        "statuses": list(filters.statuses) or None,
        "pattern": _pattern(filters.text) if filters.text else None,
    }
    if after is not None:
        values["after_start"], values["after_plugin"], values["after_event"] = after
    given = {name: value for name, value in values.items() if value is not None}
    return {**given, "limit": limit + 1}


@functools.cache
def _listing(
    columns: tuple[ColumnElement[Any], ...], include_removed: bool, given: frozenset[str]
) -> Select[Any]:
    """The listing statement for one shape of filter (`given`: the parameters set), built
    once: building a statement and its cache key anew cost more than the range scan."""
    c = events.c

    def bound(name: str, column: ColumnElement[Any]) -> BindParameter[Any]:
        return bindparam(name, type_=column.type)

    where: list[ColumnElement[bool]] = []
    if not include_removed:
        where.append(c.removed_at.is_(None))
    if "plugin" in given:
        where.append(c.plugin_id == bound("plugin", c.plugin_id))
    if "venue" in given:
        where.append(c.venue_id == bound("venue", c.venue_id))
    if "start" in given:
        # Overlap, not containment: a festival that began yesterday is still on.
        start = bound("start", c.start_at)
        where.append(or_(c.end_at >= start, and_(c.end_at.is_(None), c.start_at >= start)))
    if "earliest" in given:
        where.append(c.start_at >= bound("earliest", c.start_at))
    if "end" in given:
        where.append(c.start_at < bound("end", c.start_at))
    if "statuses" in given:
        where.append(c.status.in_(bindparam("statuses", expanding=True)))
    if "pattern" in given:
        pattern = bound("pattern", c.title)
        where.append(
            or_(c.title.ilike(pattern, escape="\\"), c.description.ilike(pattern, escape="\\"))
        )
    if "after_start" in given:
        after = (
            bound("after_start", c.start_at),
            bound("after_plugin", c.plugin_id),
            bound("after_event", c.event_id),
        )
        where.append(tuple_(c.start_at, c.plugin_id, c.event_id) > tuple_(*after))
    return (
        select(*columns)
        .where(*where)
        .order_by(c.start_at, c.plugin_id, c.event_id)
        .limit(bindparam("limit", type_=Integer))
    )


_SHORT_LISTING = 500  # events: the API's largest page, an index range read in a millisecond


def _as_read(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`column`, its values as the driver reads them (no result processing)."""
    return type_coerce(column, NullType()).label(column.name)


def _processor(column: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What `column`'s type does to a value `dialect`'s driver read (None: nothing)."""
    return column.type.result_processor(dialect, None)


# What listings show: every column for the feeds (their DTSTAMP is `changed_at`), or, for the
# JSON API, the stored document, what runs change and the keyset, in the order
# `event_json.page` reads them (see event_json.py). Both hold the keyset (start, plugin, id).
# The run fields and the start of a document row are read as the driver gives them (on
# SQLite, text): a page's events mostly share their run fields, so `event_json.page` decodes
# each distinct set once (`decode_run_fields`), and only the last row's start is needed, for
# the next page's key.
ALL_COLUMNS = tuple(c for c in events.c if c.name != "document")
DOCUMENT_COLUMNS = (
    events.c.document,
    *(_as_read(events.c[name]) for name in event_json.RUN_FIELDS),
    events.c.plugin_id,
    _as_read(events.c.start_at),
    events.c.event_id,
)


@functools.cache
def decode_run_fields(dialect: Dialect) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """What turns the run fields of a `DOCUMENT_COLUMNS` row, as `dialect`'s driver read
    them, into the values their columns give (datetimes in UTC)."""
    processors = [_processor(events.c[name], dialect) for name in event_json.RUN_FIELDS]

    def decode(values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for process, value in zip(processors, values, strict=True)
        )

    return decode


@functools.cache
def _position(columns: tuple[ColumnElement[Any], ...], name: str) -> int:
    """Where the column `name` is in a row of `columns` (by position: a row's attributes, by
    name, cost about ten times more to read)."""
    return next(at for at, column in enumerate(columns) if column.name == name)


@functools.cache
def _keyset(
    columns: tuple[ColumnElement[Any], ...], dialect: Dialect
) -> Callable[[Row[Any]], EventKey]:
    """What reads the (start, plugin, id) key of a row of `columns`, decoding what they read
    as the driver gives it."""
    positions = [_position(columns, name) for name in ("start_at", "plugin_id", "event_id")]
    decoders = [
        _processor(events.c[columns[at].name], dialect)
        if isinstance(columns[at].type, NullType)
        else None
        for at in positions
    ]

    def key(row: Row[Any]) -> EventKey:
        start, plugin_id, event_id = (
            row[position] if decode is None else decode(row[position])
            for position, decode in zip(positions, decoders, strict=True)
        )
        return start, plugin_id, event_id

    return key


@dataclass(frozen=True)
class Listing:
    """One page of events (rows of the listing's columns), the key to continue after (or
    None), and the facts of the plugins whose events are on the page (see `plugin_facts`)."""

    rows: list[Row[Any]]
    next_key: EventKey | None
    plugins: dict[str, RowMapping]


_FACTS = select(
    plugins.c.plugin_id,
    plugins.c.last_success_at,
    plugins.c.consecutive_failures,
    plugins.c.manifest["refresh_interval_seconds"].as_integer().label("refresh_interval_seconds"),
    plugins.c.max_event_seconds,
)
_ONE_PLUGIN = plugins.c.plugin_id == bindparam("plugin", type_=plugins.c.plugin_id.type)
# One plugin's, a page's usual case: an expanding IN list is rendered anew at each execution.
_ONE_PLUGINS_FACTS = _FACTS.where(_ONE_PLUGIN)
_FACTS_OF = _FACTS.where(plugins.c.plugin_id.in_(bindparam("plugins", expanding=True)))
# The longest event of the plugins in scope, and how many of them have stored events whose
# longest is not known (stored before versions that record it): a plugin that never stored an
# event (pending, or never reached) bounds nothing.
_LONGEST = select(
    func.max(plugins.c.max_event_seconds),
    func.count(
        case(
            (
                and_(
                    plugins.c.max_event_seconds.is_(None),
                    exists().where(events.c.plugin_id == plugins.c.plugin_id),
                ),
                1,
            )
        )
    ),
)
_LONGEST_OF_ONE = _LONGEST.where(_ONE_PLUGIN)


def plugin_facts(
    conn: Connection, plugin_ids: AbstractSet[str] | None = None
) -> dict[str, RowMapping]:
    """What is needed to know about every plugin (or those named), by id: its last success,
    failures in a row and declared interval (for freshness), and its longest event.
    A read for `Store.read`."""
    if plugin_ids is None:
        rows = conn.execute(_FACTS).mappings().all()
    elif len(plugin_ids) == 1:
        (plugin_id,) = plugin_ids
        rows = conn.execute(_ONE_PLUGINS_FACTS, {"plugin": plugin_id}).mappings().all()
    elif plugin_ids:
        rows = conn.execute(_FACTS_OF, {"plugins": list(plugin_ids)}).mappings().all()
    else:
        return {}
    return {row["plugin_id"]: row for row in rows}


def _before(instant: datetime, seconds: float) -> datetime | None:
    """`seconds` before `instant`; None when that is before the year 1 (no bound needed)."""
    try:
        return instant - timedelta(seconds=seconds)
    except OverflowError:
        return None


def _longest_event(conn: Connection, plugin_id: str | None) -> float | None:
    """The longest event any plugin (or the one named) stored, in seconds; None if unknown."""
    if plugin_id is None:
        longest, unknown = conn.execute(_LONGEST).one()
    else:
        longest, unknown = conn.execute(_LONGEST_OF_ONE, {"plugin": plugin_id}).one()
    return None if unknown else float(longest or 0)


async def list_events(
    store: Store,
    filters: EventFilter,
    *,
    limit: int,
    after: EventKey | None,
    columns: tuple[ColumnElement[Any], ...] = ALL_COLUMNS,
) -> Listing:
    """One page of events ordered by (start, plugin, id)."""
    earliest, page = await store.read(_short_listing, filters, limit, after, columns)
    if page is None:
        page = await store.read(_page, filters, earliest, limit, after, columns, long=True)
    rows, facts = page
    if len(rows) <= limit:
        return Listing(rows, None, facts)
    next_key = _keyset(columns, store.engine.dialect)(rows[limit - 1])
    return Listing(rows[:limit], next_key, facts)


_Page = tuple[list[Row[Any]], dict[str, RowMapping]]


def _short_listing(
    conn: Connection,
    filters: EventFilter,
    limit: int,
    after: EventKey | None,
    columns: tuple[ColumnElement[Any], ...],
) -> tuple[datetime | None, _Page | None]:
    """The lower bound the plugins' longest event gives a listing's start, and its page when
    reading it is short (`_reads_one_range`); None when it may take long, for a read apart
    (on SQLite this read runs on the event loop: see `Store.read`)."""
    earliest = None
    if filters.start is not None and not filters.include_removed:
        # "Still going on at `from`" cannot use an index by itself; knowing the longest
        # event bounds the start from below, so the query walks only the window. That is
        # the longest of each plugin's current events: one its last snapshot withdrew may
        # have been longer, so a listing of removed events too has no bound.
        longest = _longest_event(conn, filters.plugin_id)
        earliest = _before(filters.start, longest) if longest is not None else None
    if not _reads_one_range(filters, limit, earliest):
        return earliest, None
    return earliest, _page(conn, filters, earliest, limit, after, columns)


def _page(
    conn: Connection,
    filters: EventFilter,
    earliest: datetime | None,
    limit: int,
    after: EventKey | None,
    columns: tuple[ColumnElement[Any], ...],
) -> _Page:
    """A listing's rows (one more than `limit`, if there are more), and the facts of the
    plugins whose events are on the page, not of every plugin: a listing costs the same with
    one plugin or a thousand."""
    parameters = _parameters(filters, earliest, after, limit)
    query = _listing(columns, filters.include_removed, frozenset(parameters))
    rows = list(conn.execute(query, parameters).all())
    plugin_of = operator.itemgetter(_position(columns, "plugin_id"))
    return rows, plugin_facts(conn, set(map(plugin_of, rows[:limit])))


def _reads_one_range(filters: EventFilter, limit: int, earliest: datetime | None) -> bool:
    """Whether a listing reads one index range in order and stops after `limit` rows: short
    enough to run on the event loop (see `Store.read`). Not so: more than a page; a text or
    status filter (every row read is tested, however few match); `from` while the longest
    event is unknown, or with removed events (the walk starts at the oldest event); a plugin
    without a venue (no index gives that order: every event of the plugin is read, then
    sorted)."""
    if limit > _SHORT_LISTING or filters.text is not None or filters.statuses:
        return False
    if filters.start is not None and earliest is None:
        return False
    return filters.venue_id is not None or filters.plugin_id is None


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
