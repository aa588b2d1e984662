"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from base_service.api.deps import ServicesDep
from base_service.api.schemas import Health
from base_service.store.database import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    """The process is up and serving HTTP."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database cannot be reached."}},
)
async def readyz(services: ServicesDep) -> Health | JSONResponse:
    """The service can answer queries: its database is reachable."""
    try:
        await ping(services.store.engine)
    except Exception as exc:  # any database failure means not ready; say which
        body = Health(status="unavailable", detail=f"database: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok")
