"""RFC 9457 problem documents: the body of every error response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from exec_bridge.generated.plugin_api import Problem

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
UPSTREAM_UNAVAILABLE = "urn:marquee:problem:upstream-unavailable"


class ProblemError(Exception):
    """Raised by a route to answer with a problem document."""

    def __init__(
        self,
        status: HTTPStatus,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        problem_type: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.problem_type = problem_type


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    problem_type: str = "about:blank",
) -> JSONResponse:
    """A problem+json response titled with the status's standard phrase."""
    problem = Problem(
        type=problem_type,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, the routes' own and the framework's, with a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            error.status,
            error.detail,
            headers=error.headers,
            problem_type=error.problem_type,
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == HTTPStatus.NOT_FOUND:
            detail = f"no resource at {request.url.path}"
        else:
            detail = str(error.detail)
        return problem_response(request, error.status_code, detail, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # The contract answers malformed requests with 400, not FastAPI's 422.
        issues = "; ".join(
            f"{'.'.join(map(str, issue.get('loc', ())))}: {issue.get('msg', 'invalid')}"
            for issue in error.errors()
        )
        return problem_response(request, HTTPStatus.BAD_REQUEST, issues or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("Unhandled error answering %s", request.url.path, exc_info=error)
        return problem_response(
            request, HTTPStatus.INTERNAL_SERVER_ERROR, "the plugin failed; its log says why"
        )
