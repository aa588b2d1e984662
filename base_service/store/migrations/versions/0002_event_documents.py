"""event documents, and indexes in listing order

Every event (stored or staged) gains `document`, its public JSON rendered once at staging, so a
listing no longer builds it column by column. It holds all of an event's content, so a run
compares documents to tell a changed event, and the content digest (`content_hash`) goes.
Existing rows are rendered here, in batches, so the first run after the upgrade finds them
unchanged.
The venue and plugin-venue indexes end in the listing order (start, plugin, id), so a filtered
page is read in order instead of sorted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core
import sqlalchemy as sa
from alembic import op

from base_service.timezones import zone as zone_named

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_DATETIMES = ("start_at", "end_at", "source_updated_at")
# The document as this revision renders it (`base_service/event_json.py` at the time), kept
# here so that later changes to the live renderer, which come with migrations of their own,
# do not change what this one does: the stored columns, in order, under their public names.
_FIELDS = (
    *(("plugin_id", "plugin_id"), ("event_id", "id"), ("venue_id", "venue_id")),
    *(("title", "title"), ("start_at", "start"), ("end_at", "end"), ("all_day", "all_day")),
    *(("timezone", "timezone"), ("status", "status"), ("url", "url")),
    *(("description", "description"), ("image_url", "image_url")),
    *(("ticket_url", "ticket_url"), ("categories", "categories")),
    *(("performers", "performers"), ("source_updated_at", "updated_at")),
)


def _local(value: datetime | None, zone: ZoneInfo | None) -> datetime | None:
    if value is None or zone is None:
        return value
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value


def _document(row: dict[str, Any]) -> str:
    """A row's document; `row` in the stored form (datetimes in UTC)."""
    zone = zone_named(row["timezone"])  # a stable helper, not the renderer
    fields = {public: row[column] for column, public in _FIELDS}
    fields["start"] = _local(row["start_at"], zone)
    fields["end"] = _local(row["end_at"], zone)
    return pydantic_core.to_json(fields).decode()


def _table(name: str, *keys: str) -> sa.Table:
    """The columns the rendering reads, as this revision knows them."""
    types: dict[str, Any] = {"categories": sa.JSON, "performers": sa.JSON, "all_day": sa.Boolean}
    types.update(dict.fromkeys(_DATETIMES, sa.DateTime))
    names = dict.fromkeys([*keys, *(column for column, _ in _FIELDS)])
    return sa.table(
        name,
        *(sa.column(column, types.get(column)) for column in names),
        sa.column("document", sa.Text),
    )


def _stored_form(row: sa.RowMapping) -> dict[str, Any]:
    fields = dict(row)
    for column in _DATETIMES:  # naive UTC in the database, on both dialects
        value: datetime | None = fields[column]
        fields[column] = None if value is None else value.replace(tzinfo=UTC)
    return fields


def _render(table: sa.Table, keys: Sequence[str]) -> None:
    """Fill `document` for every row of `table`, in key order."""
    connection = op.get_bind()
    key = sa.tuple_(*(table.c[name] for name in keys))
    read = (
        sa.select(*(c for c in table.c if c.name != "document"))
        .order_by(*(table.c[name] for name in keys))
        .limit(_BATCH)
    )
    write = (
        sa.update(table)
        .where(*(table.c[name] == sa.bindparam(f"key_{name}") for name in keys))
        .values(document=sa.bindparam("new_document"))
    )
    after: tuple[Any, ...] | None = None
    while True:
        query = read if after is None else read.where(key > sa.tuple_(*after))
        rows = connection.execute(query).mappings().all()
        if not rows:
            return
        updates = [
            {
                **{f"key_{name}": row[name] for name in keys},
                "new_document": _document(_stored_form(row)),
            }
            for row in rows
        ]
        connection.execute(write, updates)
        after = tuple(rows[-1][name] for name in keys)


def upgrade() -> None:
    for name in ("events", "staged_events"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
    _render(_table("events", "plugin_id", "event_id"), ["plugin_id", "event_id"])
    _render(_table("staged_events", "seq", "plugin_id", "event_id"), ["seq"])
    with op.batch_alter_table("staged_events", schema=None) as batch_op:
        batch_op.alter_column("document", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("content_hash")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("document", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("content_hash")
        batch_op.drop_index("ix_events_plugin_id_venue_id_start_at")
        batch_op.drop_index("ix_events_venue_id_start_at")
        batch_op.create_index(
            batch_op.f("ix_events_plugin_id_venue_id_start_at_event_id"),
            ["plugin_id", "venue_id", "start_at", "event_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_events_venue_id_start_at_plugin_id_event_id"),
            ["venue_id", "start_at", "plugin_id", "event_id"],
            unique=False,
        )


def downgrade() -> None:
    # The first schema's digests cannot be rebuilt from documents: an empty one reads as
    # changed, so the older version's first run marks every event changed once.
    for name in ("events", "staged_events"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("content_hash", sa.String(length=64), nullable=False, server_default="")
            )
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column("content_hash", existing_type=sa.String(64), server_default=None)
            batch_op.drop_column("document")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_venue_id_start_at_plugin_id_event_id"))
        batch_op.drop_index(batch_op.f("ix_events_plugin_id_venue_id_start_at_event_id"))
        batch_op.create_index("ix_events_venue_id_start_at", ["venue_id", "start_at"], unique=False)
        batch_op.create_index(
            "ix_events_plugin_id_venue_id_start_at",
            ["plugin_id", "venue_id", "start_at"],
            unique=False,
        )
