"""Prometheus metrics at `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from base_service.api.deps import ServicesDep
from base_service.metrics import CONTENT_TYPE
from base_service.store import state

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    """This replica's counters, and every registered plugin's state from the store."""
    registered = {plugin.plugin_id for plugin in services.settings.plugins()}
    rows = await services.store.read(state.plugin_rows)
    services.metrics.set_plugin_states(
        {plugin_id: dict(row) for plugin_id, row in rows.items() if plugin_id in registered}
    )
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)
