"""More faults for `FakePlugin.faults`: answers a plugin gives instead of its normal ones.

A fault is a function of the request returning a response (or None to answer normally); the
helpers here build such functions from response factories, so every request gets a fresh
response object.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from tests.support.fake_plugin import PROBLEM, Fault

Answer = Callable[[Request], Response | None]


def always(answer: Answer) -> Fault:
    """A fault: every request gets `answer`."""
    return answer


def first(times: int, answer: Answer) -> Fault:
    """A fault: the first `times` requests get `answer`, later ones pass."""
    remaining = [times]

    def fault(request: Request) -> Response | None:
        if remaining[0] <= 0:
            return None
        remaining[0] -= 1
        return answer(request)

    return fault


def timed(fault: Fault, times: list[float]) -> Fault:
    """The same fault, appending the monotonic time of every request it sees to `times`."""

    def wrapper(request: Request) -> Response | None:
        times.append(time.monotonic())
        return fault(request)

    return wrapper


def typed_problem(status: int, problem_type: str, headers: dict[str, str] | None = None) -> Answer:
    """Answer a problem+json document of this `type` and status."""
    body = {"type": problem_type, "title": "trouble", "status": status, "detail": problem_type}

    def answer(_: Request) -> Response:
        return Response(json.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)

    return answer


def body(content: bytes, media_type: str = "application/json", status: int = 200) -> Answer:
    """Answer these exact bytes."""

    def answer(_: Request) -> Response:
        return Response(content, status_code=status, media_type=media_type)

    return answer


def page(events: list[dict[str, Any]], next_cursor: Callable[[Request], str | None]) -> Answer:
    """Answer an events page whose `next_cursor` is computed from the request."""

    def answer(request: Request) -> Response:
        return JSONResponse({"events": events, "next_cursor": next_cursor(request)})

    return answer


def redirect(location: Callable[[Request], str], status: int = 307) -> Answer:
    """Answer a redirect to `location(request)`; None (answer normally) once redirected.

    A redirected request carries `hop=1` in its query when the location keeps the query, so
    the target can be told from the original.
    """

    def answer(request: Request) -> Response | None:
        if request.query_params.get("hop") == "1":
            return None
        return RedirectResponse(location(request), status_code=status)

    return answer


def with_hop(request: Request) -> str:
    """The request's own path and query, plus `hop=1`."""
    query = f"{request.url.query}&hop=1" if request.url.query else "hop=1"
    return f"{request.url.path}?{query}"
