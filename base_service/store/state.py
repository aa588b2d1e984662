"""Plugin state and run records: what the scheduler persists and the API reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from base_service.errors import LeaseLost
from base_service.store.ingest import delete_staging
from base_service.store.sql import insert_for
from base_service.store.tables import plugins, quarantine, runs


@dataclass(frozen=True)
class Resume:
    """What a successful run leaves for the next: the plugin's sync token and ETag."""

    sync_token: str | None = None
    etag: str | None = None
    max_event_seconds: int | None = None  # the longest stored event (see store/reads.py)


@dataclass(frozen=True)
class RunResult:
    """How a run ended, with its counts; written to the run record in one go."""

    outcome: str
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    quarantined: int = 0
    error_kind: str | None = None
    error: str | None = None


def register_plugins(
    conn: Connection, registered: Sequence[tuple[str, str, datetime]], now: datetime
) -> None:
    """Create state rows for new plugins (first run at the given time); keep URLs current.

    Safe when several replicas start at once: an existing row is never overwritten.
    """
    for plugin_id, url, first_run_at in registered:
        statement = insert_for(conn.dialect.name)(plugins).values(
            plugin_id=plugin_id,
            url=url,
            state="pending",
            consecutive_failures=0,
            next_run_at=first_run_at,
            updated_at=now,
            run_requested=False,
            force_requested=False,
        )
        conn.execute(statement.on_conflict_do_nothing(index_elements=["plugin_id"]))
        conn.execute(
            update(plugins)
            .where(plugins.c.plugin_id == plugin_id, plugins.c.url != url)
            .values(url=url, updated_at=now)
        )


def next_runs(conn: Connection, plugin_ids: Sequence[str]) -> dict[str, datetime | None]:
    """When each of these plugins is next due, as stored (shared by every replica). A plugin
    whose lease is held is due no sooner than the lease expires: its next time moves only
    when its run ends, and until then another replica would find it due, fail to claim it,
    look again at once and find it due again."""
    # The whole (small) table, filtered here: an IN list of every plugin id is compiled
    # afresh on each read and costs more than the rows it saves.
    wanted = set(plugin_ids)
    rows = conn.execute(_NEXT_RUNS).all()
    return {plugin_id: _due(*times) for plugin_id, *times in rows if plugin_id in wanted}


def _due(
    next_run_at: datetime | None, lease_owner: str | None, lease_expires_at: datetime | None
) -> datetime | None:
    if next_run_at is None or lease_owner is None or lease_expires_at is None:
        return next_run_at
    return max(next_run_at, lease_expires_at)


def abandon_runs(conn: Connection, now: datetime, run_ids: Sequence[int] | None = None) -> int:
    """Mark runs still 'running' (these, or all of them) abandoned and drop their staging."""
    if run_ids is None:
        stale = conn.execute(_RUNNING).scalars().all()
    else:
        stale = conn.execute(_RUNNING_OF_RUNS, {"runs": list(run_ids)}).scalars().all()
    return _abandon(conn, now, stale)


def abandon_plugins_runs(conn: Connection, now: datetime, plugin_id: str) -> int:
    """Mark a plugin's runs still 'running' abandoned and drop their staging."""
    stale = conn.execute(_RUNNING_OF_PLUGIN, {"plugin": plugin_id}).scalars().all()
    return _abandon(conn, now, stale)


def _abandon(conn: Connection, now: datetime, stale: Sequence[int]) -> int:
    """Nothing of these runs was applied: record them abandoned, and drop what they staged."""
    if stale:
        conn.execute(_ABANDON, {"runs": list(stale), "at": now})
        delete_staging(conn, stale)
    return len(stale)


def start_run(
    conn: Connection, plugin_id: str, trigger: str, now: datetime, replica: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Create a run record in state 'running'; return its id and the plugin's state row."""
    counts = dict.fromkeys(("pages", "fetched", "inserted", "updated", "removed", "quarantined"), 0)
    result = conn.execute(
        _OPEN_RUN,
        {
            "plugin_id": plugin_id,
            "trigger": trigger,
            "replica": replica,
            "started_at": now,
            "outcome": "running",
            **counts,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0]), plugin_row(conn, plugin_id)


def finish_run(
    conn: Connection,
    *,
    run_id: int,
    plugin_id: str,
    result: RunResult,
    reasons: Sequence[tuple[str | None, str]],
    state: str,
    consecutive_failures: int,
    next_run_at: datetime,
    manifest: dict[str, Any] | None,
    now: datetime,
    owner: str,
    resume: Resume | None = None,
) -> None:
    """Close a run record, update the plugin's state and release its lease; raise LeaseLost
    (the transaction then rolls back) if `owner` no longer holds the lease."""
    released = conn.execute(_RELEASE, {"plugin": plugin_id, "owner": owner})
    if released.rowcount != 1:
        raise LeaseLost(f"lease on {plugin_id} was lost before the run could be recorded")
    conn.execute(_CLOSE_RUN, {"run": run_id, "finished_at": now, **asdict(result)})
    if reasons:
        conn.execute(
            _KEEP_REASONS,
            [{"run_id": run_id, "event_id": eid, "reason": why} for eid, why in reasons],
        )
    values: dict[str, Any] = {
        "state": state,
        "consecutive_failures": consecutive_failures,
        "next_run_at": next_run_at,
        "last_run_id": run_id,
        "last_error": result.error,
        "last_error_kind": result.error_kind,
        "updated_at": now,
    }
    if result.outcome == "success":
        values["last_success_at"] = now
    if manifest is not None:
        values["manifest"] = manifest
    if resume is not None:
        values["sync_token"] = resume.sync_token
        values["etag"] = resume.etag
        values["max_event_seconds"] = resume.max_event_seconds
    conn.execute(_UPDATE_PLUGIN, {"plugin": plugin_id, **values})


def plugin_row(conn: Connection, plugin_id: str) -> dict[str, Any]:
    """One plugin's state row."""
    return dict(conn.execute(_PLUGIN_ROW, {"plugin": plugin_id}).mappings().one())


def plugin_rows(conn: Connection, plugin_id: str | None = None) -> dict[str, RowMapping]:
    """Every plugin's state row (or the one named, if it has one), by id."""
    if plugin_id is None:
        rows = conn.execute(_PLUGIN_ROWS).mappings().all()
    else:
        rows = conn.execute(_PLUGIN_ROW, {"plugin": plugin_id}).mappings().all()
    return {row["plugin_id"]: row for row in rows}


def run_rows(
    conn: Connection,
    *,
    plugin_id: str | None = None,
    run_ids: Sequence[int] = (),
    limit: int = 50,
    before: int | None = None,
) -> list[RowMapping]:
    """Run records, newest first, by plugin or by id."""
    query = select(runs).order_by(runs.c.run_id.desc()).limit(limit)
    if plugin_id is not None:
        query = query.where(runs.c.plugin_id == plugin_id)
    if run_ids:
        query = query.where(runs.c.run_id.in_(run_ids))
    if before is not None:
        query = query.where(runs.c.run_id < before)
    return list(conn.execute(query).mappings().all())


def quarantine_rows(conn: Connection, run_id: int) -> list[RowMapping]:
    """The quarantined records kept for a run."""
    query = (
        select(quarantine.c.event_id, quarantine.c.reason)
        .where(quarantine.c.run_id == run_id)
        .order_by(quarantine.c.id)
    )
    return list(conn.execute(query).mappings().all())


# The statements of every run, built once (see store/ingest.py); an UPDATE without `.values`
# sets the columns its parameters name.
_PLUGIN = bindparam("plugin", type_=plugins.c.plugin_id.type)
_PLUGIN_ROWS = select(plugins)
_PLUGIN_ROW = _PLUGIN_ROWS.where(plugins.c.plugin_id == _PLUGIN)
_OPEN_RUN = insert(runs)
_CLOSE_RUN = update(runs).where(runs.c.run_id == bindparam("run", type_=runs.c.run_id.type))
_KEEP_REASONS = insert(quarantine)
_RUNNING = select(runs.c.run_id).where(runs.c.outcome == "running")
_RUN_IDS: BindParameter[int] = bindparam("runs", expanding=True)
_RUNNING_OF_RUNS = _RUNNING.where(runs.c.run_id.in_(_RUN_IDS))
_RUNNING_OF_PLUGIN = _RUNNING.where(runs.c.plugin_id == _PLUGIN)
_ABANDON = (
    update(runs)
    .where(runs.c.run_id.in_(_RUN_IDS))
    .values(
        outcome="abandoned",
        finished_at=bindparam("at", type_=runs.c.finished_at.type),
        error_kind="interrupted",
        error="the process running it stopped; nothing was applied",
    )
)
_UPDATE_PLUGIN = update(plugins).where(plugins.c.plugin_id == _PLUGIN)
_NEXT_RUNS = select(
    plugins.c.plugin_id, plugins.c.next_run_at, plugins.c.lease_owner, plugins.c.lease_expires_at
)
_RELEASE = (
    update(plugins)
    .where(plugins.c.plugin_id == _PLUGIN, plugins.c.lease_owner == bindparam("owner"))
    .values(
        lease_owner=None,
        lease_expires_at=None,
        run_requested=False,
        force_requested=False,
        requested_trace_id=None,
    )
)
