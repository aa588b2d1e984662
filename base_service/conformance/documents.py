"""Checks of what the plugin sends: manifest, contract version, health, events and their fields."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from base_service.conformance.context import Context, Failed, Skipped
from base_service.conformance.probe import Exchange
from base_service.errors import ContractViolation, IncompatibleContract
from base_service.validation import SUPPORTED_MAJOR, parse_health, parse_manifest

# RFC 3339 date-time: the offset (Z or ±hh:mm) is required.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
EVENT_TIMES = ("start", "end", "updated_at")
PAGE_TIMES = ("next_poll_after",)
SHOWN = 3  # how many offenders a failure names


def require_json_200(exchange: Exchange, what: str) -> None:
    """Fail unless the answer is 200 with a JSON body."""
    if exchange.status != 200:
        raise Failed(f"{what} answered {exchange.status}: {exchange.excerpt()}", exchange)
    if exchange.media_type != "application/json":
        shown = exchange.media_type or "no Content-Type"
        raise Failed(f"{what} answered 200 with {shown}, not application/json", exchange)


def check_manifest(ctx: Context) -> str:
    """The manifest validates against the contract models; venue ids are unique."""
    exchange = ctx.manifest_exchange()
    require_json_200(exchange, "the manifest")
    try:
        parse_manifest(exchange.body)
    except ContractViolation as exc:
        raise Failed(str(exc), exchange) from None
    except IncompatibleContract:
        pass  # the shape is right; contract_version says what is wrong with the version
    manifest = ctx.manifest()
    repeated = [v for v, n in Counter(v.id for v in manifest.venues).items() if n > 1]
    if repeated:
        raise Failed(f"venue ids are not unique: {_names(repeated)}", exchange)
    return (
        f"{manifest.plugin_id} {manifest.version}: {len(manifest.venues)} venue(s), "
        f"max_page_size {manifest.max_page_size}"
    )


def check_contract_version(ctx: Context) -> str:
    """The plugin speaks a 1.x contract (contract_version, widened by contract_versions)."""
    exchange = ctx.manifest_exchange()
    manifest = ctx.manifest()
    try:
        parse_manifest(exchange.body)
    except IncompatibleContract as exc:
        raise Failed(str(exc), exchange) from None
    except ContractViolation:
        raise Skipped("needs a valid manifest (see manifest)") from None
    spoken = manifest.contract_versions
    if spoken is None:
        return f"speaks {manifest.contract_version}; the base service speaks {SUPPORTED_MAJOR}.x"
    low, high, own = _version(spoken.min), _version(spoken.max), _version(manifest.contract_version)
    if low > high:
        raise Failed(
            f"contract_versions.min {spoken.min} is above contract_versions.max {spoken.max}",
            exchange,
        )
    if not low <= own <= high:
        raise Failed(
            f"contract_version {manifest.contract_version} is outside contract_versions "
            f"{spoken.min} to {spoken.max}",
            exchange,
        )
    return f"speaks {spoken.min} to {spoken.max}; the base service speaks {SUPPORTED_MAJOR}.x"


def check_health(ctx: Context) -> str:
    """GET /v1/health answers 200 with a valid health document."""
    exchange = ctx.probe.get("/v1/health")
    require_json_200(exchange, "health")
    try:
        health = parse_health(exchange.body)
    except ContractViolation as exc:
        raise Failed(str(exc), exchange) from None
    return f"status {health.status.value}" + (f": {health.detail}" if health.detail else "")


def check_events_valid(ctx: Context) -> str:
    """Every page of a whole walk validates, and so does every event on it."""
    walk = ctx.main_walk()
    stopped = walk.stopped
    if stopped is not None and stopped.kind != "endless":
        raise Failed(f"page {len(walk.pages) + 1}: {stopped}", stopped.exchange)
    for page in walk.pages:
        if page.page.rejected:
            reasons = "; ".join(
                f"{r.event_id or '(no id)'}: {r.reason}" for r in page.page.rejected[:SHOWN]
            )
            raise Failed(
                f"{len(page.page.rejected)} event(s) on this page do not validate: {reasons}",
                page.exchange,
            )
        mode = page.document.get("mode", "full")
        if mode != "full":
            raise Failed(
                f"mode is {mode!r} on a walk started without a sync_token; only 'full' is allowed",
                page.exchange,
            )
    note = "" if walk.complete else " (on the pages read before the walk stopped)"
    limit = walk.params["limit"]
    return f"{len(walk.ids)} event(s) on {len(walk.pages)} page(s) at limit {limit}{note}"


def check_date_time_offsets(ctx: Context) -> str:
    """Every date-time string sent carries a UTC offset (checked on the raw JSON)."""
    walk = ctx.main_walk()
    checked = 0
    for page in walk.pages:
        problems: list[str] = []
        for field in PAGE_TIMES:
            checked += _check_time(page.document, field, "the page", problems)
        for raw in page.raw_events:
            if isinstance(raw, dict):
                label = f"event {raw.get('id')!r}"
                for field in EVENT_TIMES:
                    checked += _check_time(raw, field, label, problems)
        if problems:
            raise Failed("; ".join(problems[:SHOWN]), page.exchange)
    return f"{checked} date-time(s) checked, each with an offset"


def check_unique_ids(ctx: Context) -> str:
    """No event id appears twice in one walk."""
    walk = ctx.main_walk()
    seen: dict[str, int] = {}
    for number, page in enumerate(walk.pages, start=1):
        for event_id in page.ids:
            if event_id in seen:
                where = "this page" if seen[event_id] == number else f"page {seen[event_id]}"
                raise Failed(
                    f"id {event_id!r} on page {number} was already on {where}: ids must be "
                    "unique within the plugin",
                    page.exchange,
                )
            seen[event_id] = number
    return f"{len(seen)} distinct id(s)"


def check_event_venues(ctx: Context) -> str:
    """Every event's venue_id is one of the manifest's venues."""
    venue_ids = ctx.venue_ids()
    walk = ctx.main_walk()
    for page in walk.pages:
        unknown = [
            f"{raw.get('id')!r} at {raw.get('venue_id')!r}"
            for raw in page.raw_events
            if isinstance(raw, dict) and raw.get("venue_id") not in venue_ids
        ]
        if unknown:
            raise Failed(
                f"event(s) at venues the manifest does not list: {', '.join(unknown[:SHOWN])}",
                page.exchange,
            )
    return f"every event is at one of the manifest's {len(venue_ids)} venue(s)"


def _check_time(document: dict[str, Any], field: str, label: str, problems: list[str]) -> int:
    value = document.get(field)
    if not isinstance(value, str):
        return 0
    if not RFC3339.match(value):
        problems.append(f"{label}: {field} {value!r} is not an RFC 3339 date-time with an offset")
    return 1


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _names(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values[:SHOWN])
