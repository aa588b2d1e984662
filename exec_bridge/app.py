"""The HTTP service: the plugin contract's /v1 routes over the command's last result."""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from exec_bridge.config import Settings
from exec_bridge.cursors import CursorError, decode_cursor
from exec_bridge.generated.plugin_api import EventsPage, Health, Manifest
from exec_bridge.pages import UnknownVenueError, page
from exec_bridge.problems import (
    UPSTREAM_UNAVAILABLE,
    ProblemError,
    install_problem_handlers,
    problem_response,
)
from exec_bridge.result import Result, Results, Unavailable
from exec_bridge.runner import Command

DEFAULT_PAGE_SIZE = 100
# Sent with 503 while no run has succeeded: the next request runs the command again.
RETRY_AFTER_SECONDS = 30
# The bridge pages and filters itself; it cannot honour a sync token whatever the script says.
UNSUPPORTED_CAPABILITIES = {"incremental_sync"}
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.IGNORECASE)


def parse_instant(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with a UTC offset; a 400 problem otherwise."""
    try:
        if not RFC3339.fullmatch(value):
            raise ValueError(value)
        return datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            f"`{name}` must be an RFC 3339 date-time with a UTC offset: {value!r}",
        ) from error


def served_manifest(result: Result, max_page_size: int) -> Manifest:
    """The script's manifest, with the paging the bridge itself provides."""
    manifest = result.manifest
    capabilities = [c for c in manifest.capabilities if c not in UNSUPPORTED_CAPABILITIES]
    return manifest.model_copy(
        update={"max_page_size": max_page_size, "capabilities": capabilities}
    )


async def available(pending: Awaitable[Result]) -> Result:
    """The result, or a 503 problem the base service retries, then defers on."""
    try:
        return await pending
    except Unavailable as error:
        raise ProblemError(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"no run of the command has succeeded yet: {error}",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            problem_type=UPSTREAM_UNAVAILABLE,
        ) from error


def create_app(settings: Settings) -> FastAPI:
    """Build the service; the command first runs when the server starts."""
    command = Command(
        argv=settings.argv,
        timeout_seconds=settings.exec_timeout_seconds,
        max_output_bytes=settings.exec_max_output_bytes,
        # The script has no use for the token that guards the bridge: it is not passed on.
        env={k: v for k, v in os.environ.items() if k.upper() != "PLUGIN_TOKEN"},
    )
    results = Results(command, settings.cache_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """Warm up with a first run, so the first request need not wait; stop it on exit."""
        results.refresh()
        try:
            yield
        finally:
            await results.aclose()

    # The contract document is the API's description; the app publishes no other.
    app = FastAPI(
        title="Marquee exec bridge",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_problem_handlers(app)
    if settings.plugin_token is not None:
        _require_token(app, settings.plugin_token.get_secret_value())

    # Unset optional fields are left out: `contract_versions` may be absent, never null.
    @app.get("/v1/manifest", response_model_exclude_none=True)
    async def get_manifest() -> Manifest:
        """The script's manifest; a stale result is refreshed first, as a walk begins here."""
        return served_manifest(await available(results.fresh()), settings.max_page_size)

    @app.get("/v1/health")
    async def get_health() -> Health:
        """How the latest run went; never runs the command."""
        return await results.health()

    @app.get("/v1/events")
    async def list_events(
        venue_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        start_from: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        cursor: Annotated[str | None, Query(min_length=1, max_length=2000)] = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = DEFAULT_PAGE_SIZE,
    ) -> EventsPage:
        """One page of events; the first page of a walk refreshes a stale result."""
        try:
            after = decode_cursor(cursor) if cursor is not None else None
        except CursorError as error:
            raise ProblemError(HTTPStatus.BAD_REQUEST, str(error)) from error
        lower = parse_instant("from", start_from) if start_from is not None else None
        upper = parse_instant("to", until) if until is not None else None
        result = await available(results.fresh() if after is None else results.current())
        try:
            return page(
                result,
                limit=min(limit, settings.max_page_size),
                venue_id=venue_id,
                start_from=lower,
                until=upper,
                after=after,
            )
        except UnknownVenueError as error:
            raise ProblemError(HTTPStatus.NOT_FOUND, str(error)) from error

    return app


def _require_token(app: FastAPI, token: str) -> None:
    """Answer 401 to every /v1 request without the configured bearer token."""
    expected = token.encode()

    @app.middleware("http")
    async def check_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/v1"):
            return await call_next(request)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
            return await call_next(request)
        detail = "the bearer token is not valid" if given else "a bearer token is required"
        challenge = 'Bearer error="invalid_token"' if given else "Bearer"
        return problem_response(
            request, HTTPStatus.UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge}
        )
