"""Checks of error answers: each is an RFC 9457 problem document with the right status."""

from __future__ import annotations

from pydantic import ValidationError

from base_service.conformance.context import Context, Failed
from base_service.conformance.probe import PROBLEM_JSON, Exchange
from base_service.generated.plugin_api import Problem

BAD_CURSOR = "!conformance-kit-unknown-cursor!"
BAD_INSTANT = "not-a-date-time"
UNKNOWN_PATH = "/v1/conformance-kit-unknown-path"


def expect_problem(exchange: Exchange, status: int, why: str) -> str:
    """Fail unless the answer is `status` with an application/problem+json document."""
    if exchange.status != status:
        raise Failed(
            f"{why}: expected {status} with a problem document, got {exchange.status}: "
            f"{exchange.excerpt()}",
            exchange,
        )
    if exchange.media_type != PROBLEM_JSON:
        shown = exchange.media_type or "no Content-Type"
        raise Failed(f"{why}: {status} came as {shown}, not {PROBLEM_JSON}", exchange)
    try:
        problem = Problem.model_validate_json(exchange.body)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"]
        raise Failed(f"{why}: the problem document does not validate: {reason}", exchange) from None
    if problem.status != status:
        shown = "no status" if problem.status is None else f"status {problem.status}"
        raise Failed(f"{why}: the problem document has {shown}, the response {status}", exchange)
    return f"{status} {PROBLEM_JSON}" + (f" ({problem.detail})" if problem.detail else "")


def check_error_bad_cursor(ctx: Context) -> str:
    """A cursor the plugin never issued gets a 400 problem."""
    exchange = ctx.probe.get("/v1/events", {"cursor": BAD_CURSOR})
    return expect_problem(exchange, 400, "a cursor the plugin never issued")


def check_error_bad_from(ctx: Context) -> str:
    """A `from` that is not a date-time gets a 400 problem."""
    exchange = ctx.probe.get("/v1/events", {"from": BAD_INSTANT})
    return expect_problem(exchange, 400, "a `from` that is not a date-time")


def check_error_unknown_path(ctx: Context) -> str:
    """A path the contract does not define gets a 404 problem."""
    exchange = ctx.probe.get(UNKNOWN_PATH)
    return expect_problem(exchange, 404, "an unknown path")
