"""The database schema (SQLAlchemy Core). Migrations in `migrations/` must produce exactly this."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC, so SQLite and PostgreSQL compare it alike.

    On SQLite the value is text, `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's own format, so
    text order is time order); it is written and read with `datetime`'s C methods rather than
    SQLAlchemy's generic SQLite processors, which cost several times more per value and run
    for every datetime of every row a run stages or a listing reads.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        return None if value is None else value.replace(tzinfo=UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            # "YYYY-MM-DD HH:MM:SS.ffffff+00:00", cut before the offset (always 26 characters).
            return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]

        return to_text

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            # Parsing the offset is several times cheaper than `.replace(tzinfo=UTC)` after.
            return None if value is None else datetime.fromisoformat(value + "+00:00")

        return from_text


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _event_content_columns() -> list[Column[object]]:
    """Columns holding what a plugin says about an event; shared by staged and stored rows."""
    return [
        Column("venue_id", String(200), nullable=False),
        Column("title", String(1000), nullable=False),
        Column("start_at", UTCDateTime, nullable=False),
        Column("end_at", UTCDateTime),
        Column("all_day", Boolean, nullable=False),
        Column("timezone", String(64)),
        Column("status", String(32), nullable=False),
        Column("url", Text),
        Column("description", Text),
        Column("image_url", Text),
        Column("ticket_url", Text),
        Column("categories", JSON, nullable=False),
        Column("performers", JSON, nullable=False),
        Column("source_updated_at", UTCDateTime),
        # The event's public JSON up to `updated_at`, rendered at staging (see event_json.py);
        # it holds all of the content, so a run compares it to tell a changed event.
        Column("document", Text, nullable=False),
    ]


EVENT_CONTENT_COLUMNS = [column.name for column in _event_content_columns()]

plugins = Table(
    "plugins",
    metadata,
    Column("plugin_id", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("next_run_at", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_error_kind", String(64)),
    Column("last_run_id", Integer),
    Column("last_success_at", UTCDateTime),
    Column("manifest", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
    # What the last successful run left for the next one (contract 1.1, both optional).
    # The longest event the plugin has reported, in seconds: lets a time-window query bound
    # `start_at` from below (an event still going on at `from` started at most this long before).
    Column("max_event_seconds", Integer),
    Column("sync_token", Text),
    Column("etag", String(200)),
    # A run-now request waiting to be claimed, and whether it may pass the snapshot guards.
    Column("run_requested", Boolean, nullable=False, default=False),
    Column("force_requested", Boolean, nullable=False, default=False),
    Column("requested_trace_id", String(32)),  # the trace of the API call that asked
    # The lease: which replica runs this plugin now, until when (see store/leases.py).
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("replica", String(200)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(16), nullable=False),
    Column("error_kind", String(64)),
    Column("error", Text),
    Column("pages", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("removed", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    Index(None, "plugin_id", "run_id"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(500)),
    Column("reason", Text, nullable=False),
    Index(None, "run_id"),
)

staged_events = Table(
    "staged_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("plugin_id", String(64), nullable=False),
    Column("event_id", String(500), nullable=False),
    *_event_content_columns(),
    Index(None, "run_id", "event_id"),
)

staged_removals = Table(
    "staged_removals",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("event_id", String(500), nullable=False),
    Index(None, "run_id"),
)

events = Table(
    "events",
    metadata,
    Column("plugin_id", String(64), primary_key=True),
    Column("event_id", String(500), primary_key=True),
    *_event_content_columns(),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("last_run_id", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    # Each filter's index ends in the listing order, so a page is read in order, not sorted.
    Index(None, "start_at", "plugin_id", "event_id"),
    Index(None, "plugin_id", "venue_id", "start_at", "event_id"),
    Index(None, "venue_id", "start_at", "plugin_id", "event_id"),
)

venues = Table(
    "venues",
    metadata,
    Column("plugin_id", String(64), primary_key=True),
    Column("venue_id", String(200), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", Text),
    Column("url", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
)
