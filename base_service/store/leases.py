"""Who runs a plugin now: a lease row per plugin, so exactly one replica runs it at a time.

Several base replicas may share one PostgreSQL database. A replica may run a plugin only while
it holds the plugin's lease: `claim` takes it atomically, and only when the plugin is due and the
lease is free or expired; the running replica renews it every few seconds; the run's final
transaction releases it and checks it still held it (a fence: a replica that lost its lease
cannot apply). A replica that dies mid-run stops renewing, so its lease expires after
LEASE_SECONDS and another replica claims the plugin and runs it again.

Leases are plain rows, not PostgreSQL advisory locks, so the same code runs on SQLite, a lease
survives a dropped connection as long as the replica renews it, and an expired one is visible to
every replica (and to the API, which reports a plugin as running while its lease is live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from base_service.store import state
from base_service.store.tables import plugins


@dataclass(frozen=True)
class Claim:
    """A lease taken on a plugin: by whom, and what kind of run it is for."""

    plugin_id: str
    owner: str
    trigger: str
    force: bool
    trace_id: str | None = None


def _free_or_expired(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return or_(plugins.c.lease_owner.is_(None), plugins.c.lease_expires_at < now)


def claim(conn: Connection, plugin_id: str, owner: str, now: datetime, ttl: float) -> Claim | None:
    """Take the plugin's lease if it is due and nobody holds it; sweep its dead runs."""
    until = now + timedelta(seconds=ttl)
    result = conn.execute(_CLAIM, {"plugin": plugin_id, "at": now, "owner": owner, "until": until})
    if result.rowcount != 1:
        return None
    requested, force, trace_id = conn.execute(_REQUESTED, {"plugin": plugin_id}).one()
    # Holding the lease, any run of this plugin still marked running belongs to a replica
    # that died: record it as abandoned and drop what it staged.
    state.abandon_plugins_runs(conn, now, plugin_id)
    return Claim(plugin_id, owner, "manual" if requested else "schedule", bool(force), trace_id)


def renew(conn: Connection, plugin_id: str, owner: str, now: datetime, ttl: float) -> bool:
    """Extend a held lease; False if it is no longer ours."""
    until = now + timedelta(seconds=ttl)
    result = conn.execute(_RENEW, {"plugin": plugin_id, "owner": owner, "until": until})
    return result.rowcount == 1


def release_all(conn: Connection) -> None:
    """Drop every lease: only for a database this process is known to be alone on."""
    conn.execute(update(plugins).values(lease_owner=None, lease_expires_at=None))


def request_run(
    conn: Connection,
    plugin_id: str,
    now: datetime,
    force: bool,
    trace_id: str | None = None,
    running_here: str | None = None,
) -> bool:
    """Ask for a run of the plugin as soon as a replica can; False if one is in progress.

    `trace_id` (the asking request's W3C trace) is carried into the run's calls to the plugin.
    `running_here` is the asking replica's owner id when a run of the plugin is going on in
    it: a lease of its own then counts as held even once expired (renewals can fail while the
    run goes on), until the run releases it as it records its outcome.
    """
    free = _free_or_expired(now)
    if running_here is not None:
        free = and_(
            free, or_(plugins.c.lease_owner.is_(None), plugins.c.lease_owner != running_here)
        )
    result = conn.execute(
        update(plugins)
        .where(plugins.c.plugin_id == plugin_id, free)
        .values(
            run_requested=True,
            force_requested=force,
            requested_trace_id=trace_id,
            next_run_at=now,
        )
    )
    return result.rowcount == 1


def is_held(owner: str | None, expires_at: datetime | None, now: datetime) -> bool:
    """Whether a lease (as stored) is live at `now`."""
    return owner is not None and expires_at is not None and expires_at >= now


# Built once (see store/ingest.py): a claim or renewal is made every run.
_PLUGIN = bindparam("plugin", type_=plugins.c.plugin_id.type)
_AT = bindparam("at", type_=plugins.c.next_run_at.type)
_OWNER = bindparam("owner", type_=plugins.c.lease_owner.type)
_UNTIL = bindparam("until", type_=plugins.c.lease_expires_at.type)
_CLAIM = (
    update(plugins)
    .where(
        plugins.c.plugin_id == _PLUGIN,
        or_(plugins.c.next_run_at <= _AT, plugins.c.run_requested.is_(True)),
        _free_or_expired(_AT),
    )
    .values(lease_owner=_OWNER, lease_expires_at=_UNTIL)
)
_REQUESTED = select(
    plugins.c.run_requested, plugins.c.force_requested, plugins.c.requested_trace_id
).where(plugins.c.plugin_id == _PLUGIN)
_RENEW = (
    update(plugins)
    .where(plugins.c.plugin_id == _PLUGIN, plugins.c.lease_owner == _OWNER)
    .values(lease_expires_at=_UNTIL)
)
