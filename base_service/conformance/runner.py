"""The checks in the order they run, and what turns each one into a PASS, FAIL or SKIP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from base_service.conformance import auth, documents, filters, fuzz, optional, paging, problems
from base_service.conformance.context import Context, Failed, Skipped
from base_service.conformance.probe import ProbeError
from base_service.conformance.report import CheckResult, Status


@dataclass(frozen=True)
class Check:
    """A named check: a function that returns what it found, or raises Failed or Skipped."""

    name: str
    run: Callable[[Context], str]


CHECKS: tuple[Check, ...] = (
    Check("manifest", documents.check_manifest),
    Check("contract_version", documents.check_contract_version),
    Check("health", documents.check_health),
    Check("events_valid", documents.check_events_valid),
    Check("pagination", paging.check_pagination),
    Check("cursor_stability", paging.check_cursor_stability),
    Check("limit", paging.check_limit),
    Check("date_time_offsets", documents.check_date_time_offsets),
    Check("unique_ids", documents.check_unique_ids),
    Check("event_venues", documents.check_event_venues),
    Check("venue_filter", filters.check_venue_filter),
    Check("unknown_venue", filters.check_unknown_venue),
    Check("time_window", filters.check_time_window),
    Check("error_bad_cursor", problems.check_error_bad_cursor),
    Check("error_bad_from", problems.check_error_bad_from),
    Check("error_unknown_path", problems.check_error_unknown_path),
    Check("auth_missing_token", auth.check_auth_missing_token),
    Check("auth_wrong_token", auth.check_auth_wrong_token),
    Check("auth_token_accepted", auth.check_auth_token_accepted),
    Check("etag", optional.check_etag),
    Check("incremental_sync", optional.check_incremental_sync),
    Check("fuzz", fuzz.check_fuzz),
)
CHECK_NAMES = tuple(check.name for check in CHECKS)


def run_check(check: Check, ctx: Context) -> CheckResult:
    """Run one check; its outcome, never an exception."""
    try:
        detail = check.run(ctx)
    except Failed as failure:
        return CheckResult(check.name, Status.FAIL, failure.detail, failure.request)
    except Skipped as skip:
        return CheckResult(check.name, Status.SKIP, str(skip))
    except ProbeError as exc:
        return CheckResult(check.name, Status.FAIL, str(exc), exc.request)
    return CheckResult(check.name, Status.PASS, detail)


def run_all(ctx: Context) -> list[CheckResult]:
    """Every check in order; if the plugin cannot be read at all, say why once."""
    blocked = _preflight(ctx)
    if blocked is not None:
        reason = f"{blocked.name} failed, so nothing else can be checked"
        return [
            blocked if c.name == blocked.name else CheckResult(c.name, Status.SKIP, reason)
            for c in CHECKS
        ]
    return [run_check(check, ctx) for check in CHECKS]


def _preflight(ctx: Context) -> CheckResult | None:
    """A FAIL that stops the run: no answer at all, or a token is needed and none was given."""
    try:
        exchange = ctx.manifest_exchange()
    except ProbeError as exc:
        return CheckResult("manifest", Status.FAIL, f"the plugin gave {exc}", exc.request)
    if exchange.status == 401 and not ctx.has_token:
        return CheckResult(
            "auth_token_accepted",
            Status.FAIL,
            "the plugin answered 401 without a token: it needs one; run again with "
            "--token TOKEN (the token the operator configures for it)",
            exchange.request,
        )
    if exchange.status == 401:
        return CheckResult(
            "auth_token_accepted",
            Status.FAIL,
            "the plugin answered 401 to the token given with --token: is it the right one?",
            exchange.request,
        )
    return None
