"""A complete Marquee plugin on top of the generated stub: its events come from a JSON file.

    make stub STUB_DIR=examples/stub_plugin          # writes examples/stub_plugin/generated/
    python examples/stub_plugin/app.py --port 9000   # serves examples/stub_plugin/events.json
    marquee-conformance http://127.0.0.1:9000        # checks it against the contract

This file is the author's: `make stub` never touches it. Everything the contract fixes — the
routes, parameter parsing, problem+json errors, the bearer token — comes from
`generated/main.py`; what is left here is the plugin's own knowledge: where the events come
from, their order, cursors, and the filters. Set PLUGIN_TOKEN to require a bearer token.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from generated.main import ProblemError, create_app
from generated.models import Event, EventsPage, Health, Manifest

HERE = Path(__file__).resolve().parent
DEFAULT_EVENTS = HERE / "events.json"
CONTRACT_VERSION = "1.1"
MAX_PAGE_SIZE = 200


class JsonFilePlugin:
    """The three operations of the contract, answered from one JSON file read at start-up."""

    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        self.manifest = Manifest.model_validate(
            {
                "plugin_id": "json-file",
                "name": f"Events of {path.name}",
                "version": "1.0.0",
                "contract_version": CONTRACT_VERSION,
                "venues": document["venues"],
                "max_page_size": MAX_PAGE_SIZE,
                "refresh_interval_seconds": 3600,
            }
        )
        self.venue_ids = {venue.id for venue in self.manifest.venues}
        events = [Event.model_validate(raw) for raw in document["events"]]
        # The listing order: by start in UTC, then by id. Cursors point into it.
        self.events = sorted(events, key=_sort_key)

    def get_manifest(self, **_: Any) -> Manifest:
        """Describe the plugin and its venues."""
        return self.manifest

    def get_health(self, **_: Any) -> Health:
        """The file was read at start-up, so the plugin is usable."""
        return Health.model_validate({"status": "ok", "detail": f"{len(self.events)} events"})

    def list_events(
        self,
        *,
        venue_id: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        **_: Any,
    ) -> EventsPage:
        """One page of events after `cursor`, filtered by venue and by [from, to)."""
        if venue_id is not None and venue_id not in self.venue_ids:
            raise ProblemError(404, f"no venue has the id {venue_id!r}")
        low, high = _utc("from", from_), _utc("to", to)
        after = _decode_cursor(cursor) if cursor is not None else None
        size = min(limit or 100, MAX_PAGE_SIZE)
        chosen: list[Event] = []
        for event in self.events:
            if after is not None and _sort_key(event) <= after:
                continue
            if venue_id is not None and event.venue_id != venue_id:
                continue
            if high is not None and event.start >= high:
                break  # the listing is in start order: nothing later starts before `to`
            if low is not None and (event.end or event.start) < low:
                continue  # `from` keeps events that end at or after it
            chosen.append(event)
            if len(chosen) > size:
                break
        more = len(chosen) > size
        page = chosen[:size]
        next_cursor = _encode_cursor(page[-1]) if more else None
        return EventsPage.model_validate(
            {"events": page, "next_cursor": next_cursor, "mode": "full"}
        )


def _sort_key(event: Event) -> tuple[datetime, str]:
    return event.start.astimezone(UTC), event.id


def _utc(name: str, moment: datetime | None) -> datetime | None:
    """A bound in UTC; a 400 problem when it cannot be one (years 1 and 9999 at the edge)."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ProblemError(400, f"`{name}` is out of range") from None


def _encode_cursor(event: Event) -> str:
    start, event_id = _sort_key(event)
    raw = json.dumps({"s": start.isoformat(), "i": event_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The sort key a cursor stands for; a 400 problem if this plugin did not issue it."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        start = datetime.fromisoformat(document["s"])
        event_id = document["i"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ProblemError(400, "the cursor is not one this plugin issued") from None
    if start.utcoffset() is None or not isinstance(event_id, str):
        raise ProblemError(400, "the cursor is not one this plugin issued")
    return start.astimezone(UTC), event_id


def main() -> None:
    """Serve the plugin: `python app.py [--host H] [--port P] [--events FILE]`."""
    parser = argparse.ArgumentParser(description="A Marquee plugin serving a JSON file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    args = parser.parse_args()
    token = os.environ.get("PLUGIN_TOKEN") or None
    app = create_app(JsonFilePlugin(args.events), token=token)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
