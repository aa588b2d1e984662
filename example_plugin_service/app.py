"""The HTTP service: the plugin contract's /v1 routes over the catalog of feed events."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from http import HTTPStatus
from importlib import metadata
from typing import Annotated

import httpx
from fastapi import FastAPI, Header, Query, Request, Response

from example_plugin_service.catalog import Catalog, FeedUnavailableError, UnknownVenueError
from example_plugin_service.config import Settings
from example_plugin_service.cursors import CursorError
from example_plugin_service.generated.plugin_api import EventsPage, Health, Manifest
from example_plugin_service.problems import (
    ProblemError,
    install_problem_handlers,
    problem_response,
)
from example_plugin_service.venues import load_venues

logger = logging.getLogger(__name__)

CONTRACT_VERSION = "1.0"
PLUGIN_NAME = "iCalendar feeds"
DEFAULT_PAGE_SIZE = 100


def plugin_version() -> str:
    """The installed package's version, or 0.1.0 when run from a bare source tree."""
    try:
        return metadata.version("marquee")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def parse_instant(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with a UTC offset; a 400 problem otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST, f"`{name}` is not an RFC 3339 date-time: {value!r}"
        ) from error
    if "T" not in value.upper() or moment.utcoffset() is None:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST, f"`{name}` must be a date-time with a UTC offset: {value!r}"
        )
    return moment


class _Runtime:
    """What the lifespan creates and the routes use."""

    catalog: Catalog | None = None

    def require_catalog(self) -> Catalog:
        """The catalog, or a 503 problem while the service starts or stops."""
        if self.catalog is None:
            raise ProblemError(HTTPStatus.SERVICE_UNAVAILABLE, "the service is starting")
        return self.catalog


def create_app(settings: Settings) -> FastAPI:
    """Build the service; the venues file is read now, so a bad one fails at start-up."""
    venues = load_venues(settings.venues_file)
    version = plugin_version()
    manifest = Manifest.model_validate(
        {
            "plugin_id": settings.plugin_id,
            "name": PLUGIN_NAME,
            "version": version,
            "contract_version": CONTRACT_VERSION,
            "venues": [venue.to_contract() for venue in venues],
            "refresh_interval_seconds": settings.refresh_interval_seconds,
            "max_page_size": settings.max_page_size,
            "capabilities": [],
        }
    )
    runtime = _Runtime()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """Own the HTTP client and the catalog for as long as the server runs."""
        async with httpx.AsyncClient(
            follow_redirects=True,
            timeout=settings.feed_timeout_seconds,
            headers={"User-Agent": f"marquee-{settings.plugin_id}/{version}"},
        ) as client:
            catalog = Catalog(venues, settings, client)
            # Load the feeds now, so the first listing need not wait for them.
            catalog.refresh_in_background()
            runtime.catalog = catalog
            logger.info("Serving %d venues as plugin %s", len(venues), settings.plugin_id)
            try:
                yield
            finally:
                runtime.catalog = None
                await catalog.aclose()

    # The contract document is the API's description; the app publishes no other.
    app = FastAPI(
        title=f"Marquee plugin: {PLUGIN_NAME}",
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_problem_handlers(app)
    if settings.plugin_token is not None:
        _require_token(app, settings.plugin_token.get_secret_value())

    # Optional fields the plugin does not use are left out, not sent as null (the contract
    # does not allow null for them).
    @app.get("/v1/manifest", response_model_exclude_none=True)
    async def get_manifest() -> Manifest:
        """Describe the plugin and its venues; answered without reading any feed."""
        return manifest

    @app.get("/v1/health")
    async def get_health() -> Health:
        """Report whether the feeds can be read."""
        return await runtime.require_catalog().health()

    @app.get("/v1/events", response_model=EventsPage)
    async def list_events(
        response: Response,
        if_none_match: Annotated[str | None, Header(max_length=200)] = None,
        venue_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        start_from: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        cursor: Annotated[str | None, Query(min_length=1, max_length=2000)] = None,
        limit: Annotated[int, Query(ge=1)] = DEFAULT_PAGE_SIZE,
    ) -> EventsPage | Response:
        """One page of events; follow next_cursor until it is null for a full snapshot."""
        catalog = runtime.require_catalog()
        begin = parse_instant("from", start_from) if start_from else None
        end = parse_instant("to", until) if until else None
        try:
            if cursor is None:  # the first page tags the whole walk (contract 1.1 ETag)
                tag = await catalog.etag(venue_id, begin, end)
                if if_none_match == tag:
                    return Response(status_code=HTTPStatus.NOT_MODIFIED, headers={"ETag": tag})
                response.headers["ETag"] = tag
            return await catalog.page(
                venue_id=venue_id, start_from=begin, until=end, cursor=cursor, limit=limit
            )
        except CursorError as error:
            raise ProblemError(HTTPStatus.BAD_REQUEST, str(error)) from error
        except UnknownVenueError as error:
            raise ProblemError(HTTPStatus.NOT_FOUND, str(error)) from error
        except FeedUnavailableError as error:
            # A partial snapshot would make the base remove that venue's events: refuse, and
            # say the upstream is at fault so the base retries rather than gives up.
            raise ProblemError(
                HTTPStatus.BAD_GATEWAY,
                str(error),
                problem_type="urn:marquee:problem:upstream-unavailable",
            ) from error

    return app


def _require_token(app: FastAPI, token: str) -> None:
    """Answer 401 to every /v1 request that does not carry the configured bearer token."""
    expected = token.encode()

    @app.middleware("http")
    async def check_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Pass requests with the right token (or outside /v1) on; answer the rest with 401."""
        if not request.url.path.startswith("/v1"):
            return await call_next(request)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
            return await call_next(request)
        detail = "a bearer token is required" if not given else "the bearer token is not valid"
        challenge = "Bearer" if not given else 'Bearer error="invalid_token"'
        return problem_response(
            request, HTTPStatus.UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge}
        )
