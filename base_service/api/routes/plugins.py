"""Registered plugins: their state, their run history, and run-now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.engine import RowMapping

from base_service.api.deps import AdminDep, ServicesDep
from base_service.api.freshness import load_freshness
from base_service.api.problems import ProblemError
from base_service.api.schemas import (
    DryRunOut,
    ManifestSummary,
    PluginList,
    PluginOut,
    QuarantinedRecord,
    RunAccepted,
    RunCounts,
    RunDetail,
    RunList,
    RunOut,
)
from base_service.api.tracing import trace_id_of
from base_service.errors import RunInProgress, UnknownPlugin
from base_service.store import leases, state

router = APIRouter(tags=["plugins"])
MAX_ID = 2**63 - 1  # the largest integer the databases store


def to_run_out(row: RowMapping) -> RunOut:
    """A run record as the public model."""
    counts = RunCounts(**{name: row[name] for name in RunCounts.model_fields})
    return RunOut(
        run_id=row["run_id"],
        plugin_id=row["plugin_id"],
        trigger=row["trigger"],
        replica=row["replica"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=row["outcome"],
        counts=counts,
        error_kind=row["error_kind"],
        error=row["error"],
    )


def _manifest(document: dict[str, Any] | None) -> ManifestSummary | None:
    if not document:
        return None
    return ManifestSummary(
        plugin_id=document["plugin_id"],
        name=document["name"],
        version=document["version"],
        contract_version=document["contract_version"],
        refresh_interval_seconds=document.get("refresh_interval_seconds"),
        venue_count=len(document.get("venues", [])),
    )


async def plugin_views(services: ServicesDep, plugin_id: str | None = None) -> list[PluginOut]:
    """Every registered plugin (or the one named) with its state and last run, in
    registration order."""
    rows = await services.store.read(state.plugin_rows, plugin_id)
    run_ids = [row["last_run_id"] for row in rows.values() if row["last_run_id"]]
    last_runs = {
        run["run_id"]: to_run_out(run)
        for run in await services.store.read(
            state.run_rows, run_ids=run_ids, limit=len(run_ids) or 1
        )
    }
    now = datetime.now(UTC)
    fresh = await load_freshness(services.store, services.settings, now, plugin_id)
    views = []
    for plugin in services.settings.plugins():
        row = rows.get(plugin.plugin_id)
        if row is None:
            continue
        views.append(
            PluginOut(
                plugin_id=plugin.plugin_id,
                url=plugin.url,
                state=row["state"],
                running=leases.is_held(row["lease_owner"], row["lease_expires_at"], now),
                manifest=_manifest(row["manifest"]),
                last_run=last_runs.get(row["last_run_id"]),
                last_success_at=row["last_success_at"],
                next_run_at=row["next_run_at"],
                consecutive_failures=row["consecutive_failures"],
                last_error=row["last_error"],
                stale=fresh[plugin.plugin_id].stale,
            )
        )
    return views


def _known(services: ServicesDep, plugin_id: str) -> None:
    if plugin_id not in {p.plugin_id for p in services.settings.plugins()}:
        raise UnknownPlugin(plugin_id)


@router.get("/v1/plugins", summary="List plugins")
async def list_plugins(services: ServicesDep) -> PluginList:
    """Every registered plugin and its state."""
    return PluginList(items=await plugin_views(services))


@router.get("/v1/plugins/{plugin_id}", summary="Get a plugin")
async def get_plugin(services: ServicesDep, plugin_id: str) -> PluginOut:
    """One registered plugin and its state."""
    _known(services, plugin_id)
    views = await plugin_views(services, plugin_id)
    if not views:  # registered, but its state row is not written yet
        raise UnknownPlugin(plugin_id)
    return views[0]


@router.get("/v1/plugins/{plugin_id}/runs", summary="List a plugin's runs")
async def list_runs(
    services: ServicesDep,
    plugin_id: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only runs older than this run id.")
    ] = None,
) -> RunList:
    """A plugin's run history, newest first."""
    _known(services, plugin_id)
    rows = await services.store.read(
        state.run_rows, plugin_id=plugin_id, limit=limit, before=before
    )
    return RunList(items=[to_run_out(row) for row in rows])


@router.get("/v1/plugins/{plugin_id}/runs/{run_id}", summary="Get a run")
async def get_run(
    services: ServicesDep, plugin_id: str, run_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> RunDetail:
    """One run, with the reasons its quarantined records were rejected."""
    _known(services, plugin_id)
    rows = await services.store.read(state.run_rows, plugin_id=plugin_id, run_ids=[run_id], limit=1)
    if not rows:
        raise ProblemError(404, f"plugin {plugin_id!r} has no run {run_id}")
    quarantined = await services.store.read(state.quarantine_rows, run_id)
    return RunDetail(
        **to_run_out(rows[0]).model_dump(),
        quarantine=[
            QuarantinedRecord(event_id=q["event_id"], reason=q["reason"]) for q in quarantined
        ],
    )


@router.post(
    "/v1/plugins/{plugin_id}/runs",
    status_code=202,
    summary="Run a plugin now",
)
async def run_now(
    request: Request,
    services: ServicesDep,
    _admin: AdminDep,
    plugin_id: str,
    force: Annotated[
        bool,
        Query(
            description="Apply even a snapshot the guards would hold back: one that "
            "removes most events, or whose manifest names another plugin_id."
        ),
    ] = False,
) -> RunAccepted:
    """Start a run of the plugin now (needs the admin token); 409 if one is in progress."""
    await services.scheduler.request_run(plugin_id, force, trace_id_of(request))
    return RunAccepted(plugin_id=plugin_id)


@router.post("/v1/plugins/{plugin_id}/dry-run", summary="Preview a run")
async def dry_run(services: ServicesDep, _admin: AdminDep, plugin_id: str) -> DryRunOut:
    """Fetch and validate now, and say what a run would change, without applying anything."""
    _known(services, plugin_id)
    plugin = next(p for p in services.settings.plugins() if p.plugin_id == plugin_id)
    row = (await services.store.read(state.plugin_rows, plugin_id))[plugin_id]
    if leases.is_held(row["lease_owner"], row["lease_expires_at"], datetime.now(UTC)):
        raise RunInProgress(plugin_id)
    preview = await services.poller.dry_run(plugin)
    result = preview.counts
    return DryRunOut(
        plugin_id=plugin_id,
        outcome=result.outcome,
        not_modified=preview.not_modified,
        counts=RunCounts(**{name: getattr(result, name) for name in RunCounts.model_fields}),
        quarantine=[QuarantinedRecord(event_id=eid, reason=why) for eid, why in preview.quarantine],
        error_kind=result.error_kind,
        error=result.error,
    )
