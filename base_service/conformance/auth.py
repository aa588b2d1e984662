"""Checks of the bearer token, when one is given: without it or with another one, 401."""

from __future__ import annotations

from base_service.conformance.context import Context, Failed, Skipped
from base_service.conformance.probe import Exchange
from base_service.conformance.problems import expect_problem

# Every operation of the contract; the token guards them all.
GUARDED: tuple[tuple[str, dict[str, str | int]], ...] = (
    ("/v1/manifest", {}),
    ("/v1/health", {}),
    ("/v1/events", {"limit": 1}),
)
NO_TOKEN = "no --token given: run with --token TOKEN to check that the plugin enforces one"


def check_auth_missing_token(ctx: Context) -> str:
    """With a token configured, a request without one gets a 401 problem."""
    return _expect_401(ctx, None, "no Authorization header", "without a token")


def check_auth_wrong_token(ctx: Context) -> str:
    """With a token configured, a request with another token gets a 401 problem."""
    wrong = f"not-{ctx.probe.token}" if ctx.probe.token else ""
    return _expect_401(ctx, wrong, "a wrong bearer token", "with a wrong token")


def check_auth_token_accepted(ctx: Context) -> str:
    """With the right token, every operation answers 200."""
    if not ctx.has_token:
        raise Skipped(NO_TOKEN)
    for path, params in GUARDED:
        exchange = ctx.probe.get(path, params)
        if exchange.status != 200:
            raise Failed(f"the right token got {exchange.status}: {exchange.excerpt()}", exchange)
    return "manifest, health and events answer 200 with the token"


def _expect_401(ctx: Context, token: str | None, note: str, how: str) -> str:
    if not ctx.has_token:
        raise Skipped(NO_TOKEN)
    for path, params in GUARDED:
        exchange: Exchange = ctx.probe.get(path, params, token=token, note=note)
        if exchange.status == 200:
            raise Failed(
                f"{path} answered 200 {how}: the plugin does not enforce its token", exchange
            )
        expect_problem(exchange, 401, f"{path} {how}")
    return f"manifest, health and events answer 401 problem+json {how}"
