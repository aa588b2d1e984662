"""A plugin that keeps the whole contract — ETag and incremental sync included — until faults
are switched on, one by one, to show what the conformance kit catches.

`BrokenPlugin(faults={"duplicate_ids"}, token="…").app()` is an ASGI app; serve it with
`tests.support.servers.serve_app`. Faults (`FAULTS`):

    naive_datetimes  start/end sent without a UTC offset
    duplicate_ids    an event on the second page repeats the id of one on the first
    ignore_limit     every page holds max_page_size events, whatever `limit` asks
    cursor_loop      the last page's next_cursor leads back to the second page
    plain_errors     errors come as application/json, not application/problem+json
    no_auth          a token is configured but never asked for
    ignore_venue     venue_id filters nothing, and an unknown venue gets every event
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

FAULTS = frozenset(
    {
        "naive_datetimes",
        "duplicate_ids",
        "ignore_limit",
        "cursor_loop",
        "plain_errors",
        "no_auth",
        "ignore_venue",
    }
)
VENUES = (
    {"id": "hall", "name": "The Hall", "timezone": "Europe/Lisbon"},
    {"id": "cellar", "name": "The Cellar", "timezone": "America/New_York"},
)
LIMIT_DEFAULT, LIMIT_MAX = 100, 10000


def sample_events(count: int = 12) -> list[dict[str, Any]]:
    """`count` valid events at two venues, every third without an end."""
    first = datetime(2030, 3, 1, 19, tzinfo=UTC)
    events = []
    for n in range(count):
        start = first + timedelta(days=n // 2, hours=3 * (n % 2))
        event: dict[str, Any] = {
            "id": f"ev-{n:02d}",
            "venue_id": VENUES[n % 2]["id"],
            "title": f"Show {n}",
            "start": start,
            "end": None if n % 3 == 2 else start + timedelta(hours=2),
            "status": "scheduled",
        }
        events.append(event)
    return events


class Refusal(Exception):
    """An error answer: its status and detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class BrokenPlugin:
    """The plugin's data and switches; change them between requests to change its answers."""

    faults: set[str] = field(default_factory=set)
    token: str | None = None
    events: list[dict[str, Any]] = field(default_factory=sample_events)
    max_page_size: int = 5

    def __post_init__(self) -> None:
        unknown = set(self.faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")

    def manifest(self) -> dict[str, Any]:
        """The manifest as served."""
        return {
            "plugin_id": "broken",
            "name": "Broken plugin",
            "version": "1.0.0",
            "contract_version": "1.1",
            "contract_versions": {"min": "1.0", "max": "1.1"},
            "venues": list(VENUES),
            "max_page_size": self.max_page_size,
            "capabilities": ["incremental_sync"],
        }

    def snapshot_tag(self) -> str:
        """A tag of the whole data set: the ETag base and the sync token."""
        digest = hashlib.sha256(json.dumps(self.events, default=str).encode()).hexdigest()
        return digest[:16]

    def app(self) -> FastAPI:
        """The ASGI app serving this plugin."""
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.middleware("http")
        async def guard(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            expected = self.token
            if expected is not None and "no_auth" not in self.faults:
                given = request.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
                    return self._problem(401, "a valid bearer token is required")
            return await call_next(request)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(_: Request, error: StarletteHTTPException) -> Response:
            return self._problem(error.status_code, str(error.detail), error.headers)

        @app.get("/v1/manifest")
        async def manifest() -> Response:
            return _json(self.manifest())

        @app.get("/v1/health")
        async def health() -> Response:
            return _json({"status": "ok", "detail": "all good"})

        @app.get("/v1/events")
        async def events(request: Request) -> Response:
            try:
                return self._events(request)
            except Refusal as refusal:
                return self._problem(refusal.status, refusal.detail)

        return app

    def _events(self, request: Request) -> Response:
        query = request.query_params
        limit = _limit(query.get("limit"))
        size = (
            self.max_page_size if "ignore_limit" in self.faults else min(limit, self.max_page_size)
        )
        venue = query.get("venue_id")
        if venue is not None and "ignore_venue" not in self.faults:
            if venue not in {v["id"] for v in VENUES}:
                raise Refusal(404, f"no venue has the id {venue!r}")
        low, high = _instant(query, "from"), _instant(query, "to")
        cursor = query.get("cursor")
        offset = _decode_cursor(cursor) if cursor is not None else 0
        tag = self.snapshot_tag()
        sync_token = query.get("sync_token")
        first_page = cursor is None
        etag = f'"{tag}-{hashlib.sha256(str(sorted(query.items())).encode()).hexdigest()[:8]}"'
        if first_page and request.headers.get("If-None-Match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        if first_page and sync_token == f"sync-{tag}":
            # Nothing changed since that walk: an empty change set, in one page.
            body = {"events": [], "next_cursor": None, "mode": "changes", "removed_ids": []}
            body["sync_token"] = f"sync-{tag}"
            return _json(body)
        chosen = [
            e
            for e in sorted(self.events, key=lambda e: (e["start"], e["id"]))
            if (venue is None or "ignore_venue" in self.faults or e["venue_id"] == venue)
            and (low is None or (e["end"] or e["start"]) >= low)
            and (high is None or e["start"] < high)
        ]
        if offset > len(chosen):
            raise Refusal(400, "the cursor is not one this plugin issued")
        page = chosen[offset : offset + size]
        more = offset + size < len(chosen)
        next_cursor = _encode_cursor(offset + size) if more else None
        if not more and "cursor_loop" in self.faults and len(chosen) > 2 * size:
            next_cursor = _encode_cursor(size)
        body: dict[str, Any] = {
            "events": [self._render(e) for e in page],
            "next_cursor": next_cursor,
            "mode": "full",
        }
        if next_cursor is None:
            body["sync_token"] = f"sync-{tag}"
        headers = {"ETag": etag} if first_page else {}
        return _json(body, headers=headers)

    def _render(self, event: dict[str, Any]) -> dict[str, Any]:
        naive = "naive_datetimes" in self.faults
        rendered = dict(event)
        for name in ("start", "end"):
            moment = event[name]
            if moment is not None:
                rendered[name] = (
                    moment.replace(tzinfo=None).isoformat() if naive else moment.isoformat()
                )
        if "duplicate_ids" in self.faults:
            # The second event of the second page takes the id of the first page's second.
            ids = [e["id"] for e in sorted(self.events, key=lambda e: (e["start"], e["id"]))]
            if event["id"] == ids[self.max_page_size + 1]:
                rendered["id"] = ids[1]
        return rendered

    def _problem(self, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
        media_type = (
            "application/json" if "plain_errors" in self.faults else "application/problem+json"
        )
        body = {"type": "about:blank", "title": "error", "status": status, "detail": detail}
        return Response(
            json.dumps(body), status_code=status, media_type=media_type, headers=headers
        )


def _json(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), media_type="application/json", headers=headers)


def _limit(value: str | None) -> int:
    if value is None:
        return LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= LIMIT_MAX:
        raise Refusal(400, f"`limit` must be an integer from 1 to {LIMIT_MAX}: {value!r}")
    return int(value)


def _instant(query: Any, name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if "T" not in value.upper() or moment.tzinfo is None:
            raise ValueError
        moment.astimezone(UTC)  # out of range once in UTC: refused too
    except (ValueError, OverflowError):
        raise Refusal(400, f"`{name}` must be an RFC 3339 date-time with an offset") from None
    return moment


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        offset = document["o"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise Refusal(400, "the cursor is not one this plugin issued") from None
    if not isinstance(offset, int) or offset < 1:
        raise Refusal(400, "the cursor is not one this plugin issued")
    return offset
