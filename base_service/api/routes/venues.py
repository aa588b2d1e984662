"""Venues, as the plugins' manifests describe them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy.engine import RowMapping

from base_service.api.deps import ServicesDep
from base_service.api.freshness import Freshness, load_freshness
from base_service.api.problems import ProblemError
from base_service.api.schemas import VenueList, VenueOut
from base_service.store import reads

router = APIRouter(tags=["venues"])


def _venue(row: RowMapping, fresh: dict[str, Freshness]) -> VenueOut:
    plugin = fresh.get(row["plugin_id"], Freshness(None, False))
    return VenueOut(
        last_success_at=plugin.last_success_at,
        stale=plugin.stale,
        plugin_id=row["plugin_id"],
        id=row["venue_id"],
        name=row["name"],
        timezone=row["timezone"],
        address=row["address"],
        url=row["url"],
    )


@router.get("/v1/venues", summary="List venues")
async def list_venues(services: ServicesDep) -> VenueList:
    """Every venue of every plugin."""
    fresh = await load_freshness(services.store, services.settings, datetime.now(UTC))
    rows = await reads.list_venues(services.store)
    return VenueList(items=[_venue(row, fresh) for row in rows])


@router.get("/v1/venues/{plugin_id}/{venue_id}", summary="Get a venue")
async def get_venue(services: ServicesDep, plugin_id: str, venue_id: str) -> VenueOut:
    """One venue."""
    rows = await reads.list_venues(services.store, plugin_id, venue_id)
    if not rows:
        raise ProblemError(404, f"no venue {venue_id!r} from plugin {plugin_id!r}")
    fresh = await load_freshness(services.store, services.settings, datetime.now(UTC), plugin_id)
    return _venue(rows[0], fresh)
