"""Every error the API returns is RFC 9457 problem+json; this is the one place that maps them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from base_service.errors import RunInProgress, UnknownPlugin
from base_service.logs import request_id_var

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


class ProblemError(Exception):
    """Raise in a handler to answer with a problem document."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem_response(
    status: int, detail: str | None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Build a problem+json response for a status."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = _location(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}")
    return "; ".join(parts)


_SENT_IN = frozenset({"query", "path"})  # where a parameter came: not part of its name


def _location(loc: Sequence[str | int]) -> str:
    """`("query", "status", 1)` → `status (value 2)`: a parameter is named alone, wherever
    it is sent (query or path), and one given more than once is told apart by its position,
    counted from 1."""
    names = [str(part) for part in loc if isinstance(part, str) and part not in _SENT_IN]
    values = [f"value {part + 1}" for part in loc if isinstance(part, int)]
    return ".".join(names) + (f" ({', '.join(values)})" if values else "")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem documents."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.detail, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(400, _validation_detail(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return problem_response(exc.status_code, str(exc.detail), headers)

    async def on_unknown_plugin(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(404, f"no plugin named {exc} is registered")

    async def on_run_in_progress(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(409, f"a run of {exc} is already in progress")

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug of ours: logged with its traceback; the client gets a problem with the request
        # id to quote, never a stack trace.
        logger.error("unhandled error", exc_info=exc, extra={"action": "api_error"})
        request_id = request_id_var.get()
        return problem_response(
            500, f"an internal error occurred (request id {request_id})" if request_id else None
        )

    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(UnknownPlugin, on_unknown_plugin)
    app.add_exception_handler(RunInProgress, on_run_in_progress)
