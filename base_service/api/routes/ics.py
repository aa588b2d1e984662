"""iCalendar feeds of events: the JSON listings' filters, one document, no pagination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.engine import RowMapping
from starlette.concurrency import run_in_threadpool

from base_service import ics
from base_service.api.deps import Services, ServicesDep
from base_service.api.problems import ProblemError
from base_service.api.routes.events import FilterDep
from base_service.store import reads

router = APIRouter(tags=["feeds"])

DEFAULT_FEED_LIMIT = 1000
MAX_FEED_LIMIT = 5000
# With neither `from` nor `to`, a feed starts here, so a calendar does not load years of history.
DEFAULT_PAST = timedelta(days=1)
CACHE_CONTROL = "max-age=300"
CALENDAR = "text/calendar"


class CalendarResponse(Response):
    """An iCalendar document (Starlette adds `; charset=utf-8`)."""

    media_type = CALENDAR


FeedLimit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_FEED_LIMIT,
        description=(
            "The most events in the feed: the first ones by start. When more match, "
            "the response carries `X-Marquee-Truncated: true`."
        ),
    ),
]
VenueIdQuery = Annotated[str | None, Query(max_length=200)]
PluginIdQuery = Annotated[str | None, Query(max_length=64)]
IfNoneMatch = Annotated[
    str | None,
    Header(description="ETags of copies the client holds; a match answers 304 with no body."),
]

_HEADER_DOCS: dict[str, Any] = {
    "ETag": {"description": "A hash of the document.", "schema": {"type": "string"}},
    "Cache-Control": {"description": "`max-age=300`.", "schema": {"type": "string"}},
}
FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "An iCalendar (RFC 5545) document: one VEVENT per event, times in the event's "
            "own zone (with its VTIMEZONE) when it has one, else in UTC."
        ),
        "content": {CALENDAR: {"schema": {"type": "string"}}},
        "headers": {
            **_HEADER_DOCS,
            "Content-Disposition": {
                "description": '`inline; filename="….ics"`.',
                "schema": {"type": "string"},
            },
            "X-Marquee-Truncated": {
                "description": "Present, `true`, when more events matched than `limit`.",
                "schema": {"type": "string", "enum": ["true"]},
            },
        },
    },
    304: {
        "description": "Not modified: `If-None-Match` names the document's current ETag.",
        "headers": _HEADER_DOCS,
    },
}
FEED_DESCRIPTION = (
    "Every matching event in one iCalendar document, ordered by start; no cursor. With neither "
    "`from` nor `to`, the feed starts one day ago. At most `limit` events (default "
    f"{DEFAULT_FEED_LIMIT}, at most {MAX_FEED_LIMIT}). Send `If-None-Match` with the last ETag "
    "to get 304 when nothing changed."
)


def _now() -> datetime:
    return datetime.now(UTC)


def _filename(*parts: str) -> str:
    """A file name safe in a header: ASCII letters, digits, `.`, `_` and `-`."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip(".-")
    return f"{stem[:100] or 'events'}.ics"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (weak comparison, as RFC 9110 says) or is `*`."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


async def _feed(
    services: Services,
    filters: reads.EventFilter,
    limit: int,
    if_none_match: str | None,
    *,
    filename: str,
    venues: list[RowMapping] | None = None,
) -> Response:
    """Render the feed; `venues` when the caller already read them."""
    if filters.start is None and filters.end is None:
        filters = replace(filters, start=_now() - DEFAULT_PAST)
    listing = await reads.list_events(services.store, filters, limit=limit, after=None)
    rows, more = [row._mapping for row in listing.rows], listing.next_key
    if venues is None:
        venues = await reads.list_venues(services.store, filters.plugin_id, filters.venue_id)
    by_key = {(venue["plugin_id"], venue["venue_id"]): venue for venue in venues}
    # A feed pinned to one venue is named after it.
    pinned = filters.plugin_id is not None and filters.venue_id is not None and len(venues) == 1
    # About a millisecond an event: rendered off the event loop.
    body = await run_in_threadpool(
        ics.render_calendar, rows, by_key, venues[0]["name"] if pinned else None
    )
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if more is not None:
        headers["X-Marquee-Truncated"] = "true"
    return CalendarResponse(body, headers=headers)


@router.get(
    "/v1/events.ics",
    summary="Events as an iCalendar feed",
    description=FEED_DESCRIPTION + " Filters as in `GET /v1/events`.",
    response_class=CalendarResponse,
    responses=FEED_RESPONSES,
)
async def events_feed(
    services: ServicesDep,
    filters: FilterDep,
    venue_id: VenueIdQuery = None,
    plugin_id: PluginIdQuery = None,
    limit: FeedLimit = DEFAULT_FEED_LIMIT,
    if_none_match: IfNoneMatch = None,
) -> Response:
    filters = replace(filters, venue_id=venue_id, plugin_id=plugin_id)
    return await _feed(services, filters, limit, if_none_match, filename="marquee-events.ics")


@router.get(
    "/v1/venues/{plugin_id}/{venue_id}/events.ics",
    summary="A venue's events as an iCalendar feed",
    description=FEED_DESCRIPTION + " Filters as in `GET /v1/venues/{plugin_id}/{venue_id}/events`.",
    response_class=CalendarResponse,
    responses=FEED_RESPONSES,
)
async def venue_events_feed(
    services: ServicesDep,
    plugin_id: str,
    venue_id: str,
    filters: FilterDep,
    limit: FeedLimit = DEFAULT_FEED_LIMIT,
    if_none_match: IfNoneMatch = None,
) -> Response:
    venues = await reads.list_venues(services.store, plugin_id, venue_id)
    if not venues:
        raise ProblemError(404, f"no venue {venue_id!r} from plugin {plugin_id!r}")
    filters = replace(filters, venue_id=venue_id, plugin_id=plugin_id)
    return await _feed(
        services,
        filters,
        limit,
        if_none_match,
        filename=_filename(plugin_id, venue_id),
        venues=venues,
    )
