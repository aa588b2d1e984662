"""Event listings: all events, and one venue's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import PlainValidator, WithJsonSchema

from base_service import event_json
from base_service.api.cursors import decode_cursor, encode_cursor
from base_service.api.deps import ServicesDep
from base_service.api.freshness import freshness
from base_service.api.problems import ProblemError
from base_service.api.schemas import EventPage, EventStatus
from base_service.store import reads

router = APIRouter(tags=["events"])


_EXPECTED = "expected an RFC 3339 date-time, e.g. 2027-01-01T00:00:00Z"


def _instant(value: object) -> datetime:
    """Parse an RFC 3339 date-time with an offset; nothing else (no numbers, no naive times)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            if " " in value.strip():  # "+01:00" unescaped in a URL arrives as " 01:00"
                raise ValueError(f"{_EXPECTED} (send a '+' offset as %2B)") from None
            raise ValueError(_EXPECTED) from None
    else:
        raise ValueError(_EXPECTED)
    if parsed.tzinfo is None:
        date_only = isinstance(value, str) and len(value) == len("2027-01-01")
        missing = "a time and a UTC offset" if date_only else "a UTC offset"
        raise ValueError(f"needs {missing}, e.g. 2027-01-01T00:00:00Z")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return parsed


Instant = Annotated[
    datetime,
    PlainValidator(_instant),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


async def event_filter(
    start: Annotated[
        Instant | None,
        Query(alias="from", description="Only events still going on at or after this instant."),
    ] = None,
    end: Annotated[
        Instant | None, Query(alias="to", description="Only events starting before this instant.")
    ] = None,
    status: Annotated[
        list[EventStatus] | None, Query(description="Only events with these statuses.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f]*$",
            description="Text in the title or description (case-insensitive for ASCII).",
        ),
    ] = None,
    include_removed: Annotated[
        bool, Query(description="Also list events their plugin no longer reports.")
    ] = False,
) -> reads.EventFilter:
    """The filters every event listing takes."""
    if start and end and end <= start:
        raise ProblemError(400, "'to' must be after 'from'")
    return reads.EventFilter(
        start=start,
        end=end,
        statuses=[s.value for s in status or []],
        text=q,
        include_removed=include_removed,
    )


FilterDep = Annotated[reads.EventFilter, Depends(event_filter)]
Limit = Annotated[int, Query(ge=1, le=500, description="Events per page.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="The `next_cursor` of the previous page, sent with that page's filters "
        "(with others it is refused: 400).",
    ),
]


async def event_page(
    services: ServicesDep, filters: reads.EventFilter, limit: int, cursor: str | None
) -> Response:
    """Run a filtered, keyset-paginated listing; the body is an `EventPage`, assembled from
    the stored documents (see event_json.py) rather than built and validated model by model."""
    after = decode_cursor(cursor, filters) if cursor else None
    listing = await reads.list_events(
        services.store, filters, limit=limit, after=after, columns=reads.DOCUMENT_COLUMNS
    )
    fresh = freshness(listing.plugins, services.settings, datetime.now(UTC))
    stale = {plugin_id: facts.stale for plugin_id, facts in fresh.items()}
    next_cursor = encode_cursor(listing.next_key, filters) if listing.next_key else None
    decode = reads.decode_run_fields(services.store.engine.dialect)
    body = event_json.page(listing.rows, stale, next_cursor, decode)
    return Response(body, media_type="application/json")


@router.get("/v1/events", summary="List events", response_model=EventPage)
async def list_events(
    services: ServicesDep,
    filters: FilterDep,
    venue_id: Annotated[str | None, Query(max_length=200)] = None,
    plugin_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Events from every plugin, ordered by start; removed events are left out by default."""
    filters = replace(filters, venue_id=venue_id, plugin_id=plugin_id)
    return await event_page(services, filters, limit, cursor)


@router.get(
    "/v1/venues/{plugin_id}/{venue_id}/events",
    summary="List a venue's events",
    response_model=EventPage,
)
async def list_venue_events(
    services: ServicesDep,
    plugin_id: str,
    venue_id: str,
    filters: FilterDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The events of one venue, ordered by start."""
    if not await reads.list_venues(services.store, plugin_id, venue_id):
        raise ProblemError(404, f"no venue {venue_id!r} from plugin {plugin_id!r}")
    filters = replace(filters, venue_id=venue_id, plugin_id=plugin_id)
    return await event_page(services, filters, limit, cursor)
