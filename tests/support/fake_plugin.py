"""A plugin server whose behaviour each test sets: the events it serves and how it fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"
Fault = Callable[[Request], Response | None]


def make_event(n: int, venue: str = "hall", **fields: Any) -> dict[str, Any]:
    """A valid contract event, numbered so tests can tell them apart."""
    start = datetime(2030, 1, 1, 20, tzinfo=UTC) + timedelta(days=n)
    event = {
        "id": f"ev-{n}",
        "venue_id": venue,
        "title": f"Show {n}",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "status": "scheduled",
    }
    event.update(fields)
    return event


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """A problem+json response."""
    body = {"type": "about:blank", "title": "error", "status": status, "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


@dataclass
class FakePlugin:
    """State of one fake plugin; mutate it between runs to change what the plugin says."""

    events: list[dict[str, Any]] = field(default_factory=list)
    venues: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "hall", "name": "The Hall", "timezone": "Europe/Lisbon"}]
    )
    page_size: int = 2
    contract_version: str = "1.0"
    refresh_interval_seconds: int | None = 3600
    faults: dict[str, Fault] = field(default_factory=dict)  # path -> fault
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0

    def manifest(self) -> dict[str, Any]:
        """The manifest as served."""
        document: dict[str, Any] = {
            "plugin_id": "fake",
            "name": "Fake plugin",
            "version": "1.0.0",
            "contract_version": self.contract_version,
            "venues": self.venues,
            "max_page_size": self.page_size,
        }
        if self.refresh_interval_seconds is not None:
            document["refresh_interval_seconds"] = self.refresh_interval_seconds
        return document

    def page(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """One page of events after `cursor` (an index)."""
        start = int(cursor or 0)
        size = min(limit, self.page_size)
        chunk = self.events[start : start + size]
        more = start + size < len(self.events)
        return {"events": chunk, "next_cursor": str(start + size) if more else None}

    def app(self) -> FastAPI:
        """The ASGI app serving this plugin."""
        app = FastAPI()

        @app.middleware("http")
        async def record_and_fault(request: Request, call_next: Any) -> Response:
            self.requests.append(
                (request.url.path, dict(request.query_params), dict(request.headers))
            )
            if self.delay:
                await asyncio.sleep(self.delay)
            fault = self.faults.get(request.url.path)
            if fault is not None:
                response = fault(request)
                if response is not None:
                    return response
            result: Response = await call_next(request)
            return result

        @app.get("/v1/manifest")
        async def manifest() -> JSONResponse:
            return JSONResponse(self.manifest())

        @app.get("/v1/health")
        async def health() -> JSONResponse:
            return JSONResponse({"status": "ok", "detail": None})

        @app.get("/v1/events")
        async def events(cursor: str | None = None, limit: int = 100) -> JSONResponse:
            return JSONResponse(self.page(cursor, limit))

        return app

    def event_requests(self) -> list[dict[str, str]]:
        """Query parameters of every /v1/events request so far."""
        return [query for path, query, _ in self.requests if path == "/v1/events"]


def fail_on_cursor(cursor: str, status: int = 500) -> Fault:
    """A fault: the events page with this cursor answers `status`."""

    def fault(request: Request) -> Response | None:
        if request.query_params.get("cursor") == cursor:
            return problem(status, f"page {cursor} failed")
        return None

    return fault


def fail_times(times: int, status: int, headers: dict[str, str] | None = None) -> Fault:
    """A fault: the first `times` requests answer `status`, later ones pass."""
    remaining = [times]

    def fault(_: Request) -> Response | None:
        if remaining[0] > 0:
            remaining[0] -= 1
            return problem(status, "not now", headers)
        return None

    return fault
