"""The command's stdout protocol: one JSON object, `{"manifest": {...}, "events": [...]}`.

The manifest and each event are checked with the models generated from the plugin contract.
A manifest that does not validate, or output that is not such an object, fails the run. An
event that does not validate is dropped, with a warning, and the rest are served; so are
events the contract's schema cannot catch: a `venue_id` not in the manifest, an `end` before
the `start`, an `id` already seen (the first one wins).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from exec_bridge.generated.plugin_api import Event, Manifest

logger = logging.getLogger(__name__)

# Dropped events logged one by one per run; the rest are counted in one line.
MAX_DROPS_LOGGED = 20


class ProtocolError(ValueError):
    """The output is not a JSON object with a valid manifest and a list of events."""


@dataclass(frozen=True)
class Output:
    """What one successful run printed: its manifest and the events that validated."""

    manifest: Manifest
    events: list[Event]
    dropped: int


def _issues(error: ValidationError, limit: int = 5) -> str:
    """A validation error in one line: `where: what` for its first few issues."""
    parts = [
        f"{'.'.join(str(p) for p in issue['loc']) or '(root)'}: {issue['msg']}"
        for issue in error.errors()[:limit]
    ]
    more = error.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _manifest(value: Any) -> Manifest:
    if value is None:
        raise ProtocolError("the output has no `manifest`")
    try:
        manifest = Manifest.model_validate(value)
    except ValidationError as error:
        raise ProtocolError(f"the manifest is not valid: {_issues(error)}") from error
    ids = [venue.id for venue in manifest.venues]
    if len(set(ids)) != len(ids):
        raise ProtocolError("the manifest lists a venue id more than once")
    return manifest


def _why_invalid(item: Any, venues: set[str], seen: set[str]) -> tuple[Event | None, str]:
    """The event, or None and the reason it is dropped."""
    try:
        event = Event.model_validate(item)
    except ValidationError as error:
        return None, _issues(error)
    if event.venue_id not in venues:
        return None, f"venue_id {event.venue_id!r} is not one of the manifest's venues"
    if event.end is not None and event.end < event.start:
        return None, "end is before start"
    if event.id in seen:
        return None, "an earlier event has the same id"
    return event, ""


def parse_output(raw: bytes, name: str) -> Output:
    """The manifest and valid events of a run's stdout; ProtocolError if it is unusable."""
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise ProtocolError(f"the output is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ProtocolError("the output is not a JSON object with `manifest` and `events`")
    manifest = _manifest(document.get("manifest"))
    items = document.get("events")
    if not isinstance(items, list):
        raise ProtocolError("the output's `events` is not a list")
    venues = {venue.id for venue in manifest.venues}
    events: list[Event] = []
    seen: set[str] = set()
    dropped = 0
    for index, item in enumerate(items):
        event, reason = _why_invalid(item, venues, seen)
        if event is not None:
            seen.add(event.id)
            events.append(event)
            continue
        dropped += 1
        if dropped <= MAX_DROPS_LOGGED:
            label = str(item.get("id"))[:100] if isinstance(item, dict) else None
            logger.warning("%s: dropped event %d (id %r): %s", name, index, label, reason)
    if dropped > MAX_DROPS_LOGGED:
        logger.warning("%s: dropped %d invalid events in all", name, dropped)
    return Output(manifest, events, dropped)
