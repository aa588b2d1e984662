"""Where a run is made atomic: pages are staged as they arrive, then applied in one transaction.

Nothing a run stages is visible to readers until `apply_run` commits. A run that fails, times
out or is killed leaves only staged rows behind, which `delete_staging` (or the start-up sweep)
deletes; the events served stay exactly as the last successful run left them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection

from base_service import event_json
from base_service.errors import SnapshotShrunk
from base_service.generated.plugin_api import Event, Manifest, Venue
from base_service.store.sql import insert_for
from base_service.store.tables import (
    EVENT_CONTENT_COLUMNS,
    events,
    staged_events,
    staged_removals,
    venues,
)

_VENUE_BATCH = 500  # rows per INSERT, well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class ShrinkGuard:
    """Refuse a snapshot that removes more than `ratio` of at least `min_events` stored events."""

    ratio: float
    min_events: int


@dataclass(frozen=True)
class ApplyCounts:
    """What applying a run changed."""

    inserted: int
    updated: int
    removed: int
    duplicates: list[str]
    duplicate_count: int


def event_row(plugin_id: str, event: Event) -> dict[str, Any]:
    """Turn a validated contract event into a stored row: its ids, content columns and public
    document (an equal document: nothing a client sees changed)."""
    row: dict[str, Any] = {
        "plugin_id": plugin_id,
        "event_id": event.id,
        "venue_id": event.venue_id,
        "title": event.title,
        "start_at": event.start,
        "end_at": event.end,
        "all_day": event.all_day,
        "timezone": event.timezone,
        "status": event.status.value,
        "url": _str_or_none(event.url),
        "description": event.description,
        "image_url": _str_or_none(event.image_url),
        "ticket_url": _str_or_none(event.ticket_url),
        "categories": event.categories,
        "performers": event.performers,
        "source_updated_at": event.updated_at,
    }
    row["document"] = event_json.document(row)
    return row


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def stage_page(
    conn: Connection,
    run_id: int,
    plugin_id: str,
    batch: Sequence[Event],
    removed_ids: Sequence[str] = (),
) -> None:
    """Stage one page for a run: its validated events, and the ids a change set says were
    removed."""
    if batch:
        rows = [{"run_id": run_id, **event_row(plugin_id, event)} for event in batch]
        conn.execute(insert(staged_events), rows)
    if removed_ids:
        conn.execute(
            insert(staged_removals),
            [{"run_id": run_id, "event_id": event_id} for event_id in removed_ids],
        )


def delete_staging(conn: Connection, run_ids: Sequence[int]) -> None:
    """Delete everything these runs staged; stored events are untouched."""
    conn.execute(delete(staged_events).where(staged_events.c.run_id.in_(run_ids)))
    conn.execute(delete(staged_removals).where(staged_removals.c.run_id.in_(run_ids)))


def apply_run(
    conn: Connection,
    *,
    run_id: int,
    plugin_id: str,
    manifest: Manifest,
    now: datetime,
    full_snapshot: bool = True,
    shrink_guard: ShrinkGuard | None = None,
) -> ApplyCounts:
    """Apply a run's staged events to the stored ones, inside the caller's transaction.

    Upserts by (plugin, event id); the first of several staged rows with one id wins and the
    others are reported as duplicates. With a full snapshot, stored events the run did not see
    are marked removed; with a change set (`full_snapshot=False`), those it staged as removed.
    Finally the staging rows are deleted. Raises SnapshotShrunk, changing nothing, when the
    removals would pass the shrink guard.
    """
    staged = staged_events.c
    firsts = (
        select(func.min(staged.seq))
        .where(staged.run_id == run_id)
        .group_by(staged.event_id)
        .scalar_subquery()
    )
    unique = select(staged_events).where(staged.run_id == run_id, staged.seq.in_(firsts)).subquery()
    stored = events.c

    joined = unique.join(
        events,
        and_(stored.plugin_id == plugin_id, stored.event_id == unique.c.event_id),
        isouter=True,
    )
    staged_count = select(func.count()).where(staged.run_id == run_id).scalar_subquery()
    counts = (
        conn.execute(
            select(
                func.count(),
                func.count(stored.event_id),
                func.sum(
                    case(
                        (
                            or_(
                                stored.document != unique.c.document,
                                stored.removed_at.is_not(None),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                staged_count,
            ).select_from(joined)
        )
    ).one()
    unique_total, existing, changed, staged_total = (
        counts[0],
        counts[1],
        counts[2] or 0,
        counts[3],
    )
    duplicate_ids: Sequence[str] = []
    if staged_total > unique_total:  # only then is there a duplicate to name
        duplicate_ids = (
            (
                conn.execute(
                    select(staged.event_id)
                    .where(staged.run_id == run_id)
                    .group_by(staged.event_id)
                    .having(func.count() > 1)
                    .limit(20)
                )
            )
            .scalars()
            .all()
        )

    if full_snapshot:
        seen = select(staged.event_id).where(staged.run_id == run_id)
        if shrink_guard is not None:
            _check_shrink(conn, plugin_id, seen, shrink_guard)
        gone = stored.event_id.not_in(seen)
    else:  # a change set: only what it names as removed goes
        gone = stored.event_id.in_(
            select(staged_removals.c.event_id).where(staged_removals.c.run_id == run_id)
        )
    result = conn.execute(
        update(events)
        .where(stored.plugin_id == plugin_id, stored.removed_at.is_(None), gone)
        .values(removed_at=now, changed_at=now)
    )
    removed = result.rowcount

    conn.execute(_upsert(conn, unique, run_id=run_id, now=now))
    _store_venues(conn, plugin_id, manifest, now)
    delete_staging(conn, [run_id])
    return ApplyCounts(
        inserted=unique_total - existing,
        updated=changed,
        removed=removed,
        duplicates=list(duplicate_ids),
        duplicate_count=staged_total - unique_total,
    )


def _check_shrink(conn: Connection, plugin_id: str, seen: Any, guard: ShrinkGuard) -> None:
    stored = events.c
    active = stored.removed_at.is_(None)
    current, vanishing = (
        conn.execute(
            select(
                func.count(),
                func.count(case((stored.event_id.not_in(seen), 1))),
            ).where(stored.plugin_id == plugin_id, active)
        )
    ).one()
    if current >= guard.min_events and current and vanishing / current > guard.ratio:
        raise SnapshotShrunk(
            f"snapshot would remove {vanishing} of {current} stored events (over "
            f"SHRINK_GUARD_RATIO={guard.ratio:g}); held back. If the source really shrank, "
            "run the plugin with force=true"
        )


def _upsert(conn: Connection, unique: Any, *, run_id: int, now: datetime) -> Any:
    source = select(
        unique.c.plugin_id,
        unique.c.event_id,
        *(unique.c[name] for name in EVENT_CONTENT_COLUMNS),
        *(
            value.label(name)
            for name, value in (
                ("first_seen_at", _literal(now)),
                ("last_seen_at", _literal(now)),
                ("last_run_id", _literal(run_id)),
                ("changed_at", _literal(now)),
            )
        ),
    ).where(unique.c.run_id == run_id)
    columns = [
        "plugin_id",
        "event_id",
        *EVENT_CONTENT_COLUMNS,
        "first_seen_at",
        "last_seen_at",
        "last_run_id",
        "changed_at",
    ]
    statement = insert_for(conn)(events).from_select(columns, source)
    changed = or_(
        events.c.document != statement.excluded.document,
        events.c.removed_at.is_not(None),
    )
    return statement.on_conflict_do_update(
        index_elements=[events.c.plugin_id, events.c.event_id],
        set_={
            **{name: statement.excluded[name] for name in EVENT_CONTENT_COLUMNS},
            "last_seen_at": statement.excluded.last_seen_at,
            "last_run_id": statement.excluded.last_run_id,
            "changed_at": case((changed, statement.excluded.changed_at), else_=events.c.changed_at),
            "removed_at": None,
        },
    )


def _literal(value: object) -> Any:
    column = events.c.changed_at if isinstance(value, datetime) else events.c.last_run_id
    return literal(value, type_=column.type)


def _store_venues(conn: Connection, plugin_id: str, manifest: Manifest, now: datetime) -> None:
    """Make the stored venues of a plugin match its manifest (absent ones marked removed)."""
    ids = [venue.id for venue in manifest.venues]
    conn.execute(
        update(venues)
        .where(
            venues.c.plugin_id == plugin_id,
            venues.c.removed_at.is_(None),
            venues.c.venue_id.not_in(ids),
        )
        .values(removed_at=now, updated_at=now)
    )
    for start in range(0, len(manifest.venues), _VENUE_BATCH):
        _upsert_venues(conn, plugin_id, manifest.venues[start : start + _VENUE_BATCH], now)


def _upsert_venues(conn: Connection, plugin_id: str, batch: Sequence[Venue], now: datetime) -> None:
    statement = insert_for(conn)(venues).values(
        [
            {
                "plugin_id": plugin_id,
                "venue_id": venue.id,
                "name": venue.name,
                "timezone": venue.timezone,
                "address": venue.address,
                "url": _str_or_none(venue.url),
                "updated_at": now,
                "removed_at": None,
            }
            for venue in batch
        ]
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[venues.c.plugin_id, venues.c.venue_id],
            set_={
                name: statement.excluded[name]
                for name in ("name", "timezone", "address", "url", "updated_at", "removed_at")
            },
        )
    )
