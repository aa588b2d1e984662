"""Checks what plugins send against the contract, using the generated models.

A page whose envelope is wrong fails the run (`ContractViolation`); an event that is wrong is
*rejected* with a reason and quarantined by the caller while the page's good events go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from pydantic import ValidationError

from base_service.errors import ContractViolation, IncompatibleContract
from base_service.generated.plugin_api import Event, EventsPage, Health, Manifest
from base_service.timezones import zone

SUPPORTED_MAJOR = 1
_ENVELOPE = frozenset(EventsPage.model_fields) - {"events"}
_MAX_REASON = 500


@dataclass(frozen=True)
class Rejected:
    """An event that failed validation: its id if it had a readable one, and why."""

    event_id: str | None
    reason: str


@dataclass
class Page:
    """One validated page of events."""

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    next_cursor: str | None = None
    next_poll_after: datetime | None = None
    mode: str = "full"
    removed_ids: list[str] = field(default_factory=list)
    sync_token: str | None = None


def parse_manifest(body: bytes) -> Manifest:
    """Validate a manifest; raise ContractViolation or IncompatibleContract."""
    try:
        manifest = Manifest.model_validate_json(body)
    except ValidationError as exc:
        raise ContractViolation(f"manifest does not match the contract: {_summary(exc)}") from None
    for venue in manifest.venues:
        if zone(venue.timezone) is None:
            raise ContractViolation(
                f"venue {venue.id!r}: timezone {venue.timezone!r} is not an IANA time zone"
            )
    spoken = manifest.contract_versions
    low, high = (spoken.min, spoken.max) if spoken else (manifest.contract_version,) * 2
    if not _major(low) <= SUPPORTED_MAJOR <= _major(high):
        offered = low if low == high else f"{low} to {high}"
        raise IncompatibleContract(
            f"plugin speaks contract {offered}; this base service speaks {SUPPORTED_MAJOR}.x"
        )
    return manifest


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def parse_health(body: bytes) -> Health:
    """Validate a health answer; raise ContractViolation."""
    try:
        return Health.model_validate_json(body)
    except ValidationError as exc:
        raise ContractViolation(f"health does not match the contract: {_summary(exc)}") from None


def parse_page(body: bytes, venue_ids: frozenset[str]) -> Page:
    """Validate a page of events: bad envelope raises, bad events come back rejected."""
    items: list[Event | Rejected]
    try:  # the common case, every event valid: the page in one call, straight from its bytes
        envelope = EventsPage.model_validate_json(body)
        items = list(envelope.events)
    except ValidationError:
        envelope, items = _event_by_event(body)
    page = Page(
        next_cursor=envelope.next_cursor,
        next_poll_after=envelope.next_poll_after,
        mode=envelope.mode.value,
        removed_ids=list(envelope.removed_ids),
        sync_token=envelope.sync_token,
    )
    # UTF-8 JSON can carry a NUL only escaped; a page without the escape spares every event the
    # scan. UTF-16 and UTF-32 bodies (which json.loads accepts) always hold zero bytes.
    nul_possible = b"\\u0000" in body or b"\x00" in body
    for item in items:
        if isinstance(item, Rejected):
            page.rejected.append(item)
        elif problem := _semantic_problem(item, venue_ids, nul_possible):
            page.rejected.append(Rejected(item.id, problem))
        else:
            page.events.append(item)
    return page


def _event_by_event(body: bytes) -> tuple[EventsPage, list[Event | Rejected]]:
    """A page that is not valid as a whole: its envelope (raising ContractViolation if that
    is what is wrong), and in page order each event, valid or rejected with the reason."""
    document = _decode(body, "events page")
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ContractViolation("events page is not an object with an 'events' array")
    if "next_cursor" not in document:
        raise ContractViolation("events page has no 'next_cursor' (null on the last page)")
    try:
        envelope = EventsPage.model_validate(
            {**{k: v for k, v in document.items() if k in _ENVELOPE}, "events": []}
        )
    except ValidationError as exc:
        raise ContractViolation(f"events page: {_summary(exc)}") from None
    items: list[Event | Rejected] = []
    for raw in document["events"]:
        try:
            items.append(Event.model_validate(raw))
        except ValidationError as exc:
            items.append(Rejected(_raw_id(raw), _summary(exc)))
    return envelope, items


def _semantic_problem(event: Event, venue_ids: frozenset[str], nul_possible: bool) -> str | None:
    """Return what is wrong with an event the schema alone cannot catch, or None."""
    if event.venue_id not in venue_ids:
        return f"venue_id {event.venue_id!r} is not one of the manifest's venues"
    own_zone = zone(event.timezone)
    if event.timezone and own_zone is None:
        return f"timezone {event.timezone[:64]!r} is not an IANA time zone"
    for name in ("start", "end", "updated_at"):
        value = getattr(event, name)
        if value is not None and not _storable(value, UTC):
            return f"{name} is out of range once converted to UTC"
    for name in ("start", "end"):  # served in the event's own zone
        value = getattr(event, name)
        if own_zone is not None and value is not None and not _storable(value, own_zone):
            return f"{name} is out of range in the time zone {event.timezone}"
    if event.end is not None and event.end < event.start:
        return "end is before start"
    if event.all_day and _on_the_last_day(event, own_zone or UTC):
        return "an all-day event cannot end after 9999-12-31"
    if nul_possible and any("\x00" in text for text in _strings(event.model_dump(mode="json"))):
        return "a text field contains a NUL character"
    return None


def _storable(value: datetime, where: tzinfo) -> bool:
    """Whether an aware datetime is still a datetime (years 1 to 9999) in `where`."""
    if 1 < value.year < 9999:  # an offset moves it by less than a day: only the edges overflow
        return True
    try:
        value.astimezone(where)
    except OverflowError:
        return False
    return True


def _on_the_last_day(event: Event, where: tzinfo) -> bool:
    """Whether an all-day event touches 9999-12-31 where it is served (a feed ends it on the
    following day, which no date can hold)."""
    if event.start.astimezone(where).date() == date.max:
        return True
    end = None if event.end is None else event.end.astimezone(where)
    return end is not None and end.date() == date.max and end.time() != time(0)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _decode(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContractViolation(f"{what} is not valid JSON: {exc}") from None


def _raw_id(raw: object) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return str(raw["id"])[:500]
    return None


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)[:_MAX_REASON]
