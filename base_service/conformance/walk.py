"""Walking `GET /v1/events` page by page, the way the base service does, keeping every page."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from base_service.conformance.probe import Exchange, Probe
from base_service.errors import ContractViolation
from base_service.generated.plugin_api import Event
from base_service.validation import Page, parse_page

# The base service stops a run after MAX_PAGES_PER_RUN pages (2000 by default); a walk that
# needs more than this many pages is taken as endless.
PAGE_CAP = 1000

StopKind = Literal["status", "contract", "endless"]


class WalkStopped(Exception):
    """The walk could not go on: a non-200 answer, a page off the contract, or no end."""

    def __init__(self, kind: StopKind, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.kind = kind
        self.exchange = exchange


@dataclass(frozen=True)
class PageRead:
    """One page as received: the exchange, the raw JSON document, and the validated page."""

    exchange: Exchange
    document: dict[str, Any]
    page: Page

    @property
    def raw_events(self) -> list[Any]:
        """The page's `events` exactly as sent."""
        events = self.document.get("events")
        return events if isinstance(events, list) else []

    @property
    def ids(self) -> list[str]:
        """The string ids of the page's events, in order (events without one are left out)."""
        return [
            e["id"] for e in self.raw_events if isinstance(e, dict) and isinstance(e.get("id"), str)
        ]


@dataclass
class Walk:
    """Every page read on one walk, and why it stopped early if it did."""

    params: dict[str, str | int]
    pages: list[PageRead] = field(default_factory=list)
    stopped: WalkStopped | None = None

    @property
    def complete(self) -> bool:
        """Whether the walk reached a page whose next_cursor is null."""
        return self.stopped is None

    @property
    def ids(self) -> list[str]:
        """The event ids of every page, in order."""
        return [event_id for page in self.pages for event_id in page.ids]

    @property
    def events(self) -> list[Event]:
        """The events that validated, in order."""
        return [event for page in self.pages for event in page.page.events]

    def raw_events(self) -> Iterator[tuple[Any, PageRead]]:
        """Every event as sent, with the page it came on."""
        for page in self.pages:
            for raw in page.raw_events:
                yield raw, page

    @property
    def last(self) -> PageRead | None:
        """The last page read."""
        return self.pages[-1] if self.pages else None


def walk(
    probe: Probe,
    params: Mapping[str, str | int],
    *,
    first: Mapping[str, str] | None = None,
    page_cap: int = PAGE_CAP,
) -> Walk:
    """Follow next_cursor from the first page (with `params` and `first`) to the last."""
    result = Walk(dict(params))
    given: dict[str, int] = {}  # cursor -> number of the page that gave it
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = dict(params)
        if cursor is None:
            query.update(first or {})
        else:
            query["cursor"] = cursor
        exchange = probe.get("/v1/events", query)
        number = len(result.pages) + 1
        try:
            page = _read(exchange)
        except WalkStopped as stop:
            result.stopped = stop
            return result
        result.pages.append(page)
        cursor = page.page.next_cursor
        if cursor is None:
            return result
        if cursor in given:
            result.stopped = WalkStopped(
                "endless",
                f"page {number} gave next_cursor {_short(cursor)}, which page {given[cursor]} "
                "already gave: the walk would loop forever",
                exchange,
            )
            return result
        if number >= page_cap:
            result.stopped = WalkStopped(
                "endless", f"still a next_cursor after {page_cap} pages", exchange
            )
            return result
        given[cursor] = number


def _read(exchange: Exchange) -> PageRead:
    if exchange.status != 200:
        raise WalkStopped(
            "status",
            f"answered {exchange.status} instead of a page: {exchange.excerpt()}",
            exchange,
        )
    try:
        document = exchange.json()
    except ValueError:
        document = None
    events = document.get("events") if isinstance(document, dict) else None
    # Venue membership is a check of its own (event_venues): validate everything else here.
    venues = frozenset(
        e["venue_id"]
        for e in (events if isinstance(events, list) else [])
        if isinstance(e, dict) and isinstance(e.get("venue_id"), str)
    )
    try:
        page = parse_page(exchange.body, venues)
    except ContractViolation as exc:
        raise WalkStopped("contract", str(exc), exchange) from None
    if not isinstance(document, dict):  # parse_page accepted it, so this does not happen
        raise WalkStopped("contract", "the page is not a JSON object", exchange)
    return PageRead(exchange, document, page)


def _short(text: str, size: int = 40) -> str:
    return repr(text if len(text) <= size else text[:size] + "…")
