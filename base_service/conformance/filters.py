"""Checks of the filters of GET /v1/events: `venue_id`, and `from`/`to` with overlap semantics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from base_service.conformance.context import Context, Failed
from base_service.conformance.problems import expect_problem
from base_service.conformance.walk import Walk, walk
from base_service.generated.plugin_api import Event

MAX_VENUES = 20  # venues walked one by one; more would only repeat the same check
UNKNOWN_VENUE = "conformance-kit-unknown-venue"
SHOWN = 3


def check_venue_filter(ctx: Context) -> str:
    """With venue_id, a walk lists exactly the events at that venue."""
    main = ctx.full_walk()
    venues = sorted(ctx.venue_ids())
    limit = main.params["limit"]
    venue_of = _venues_by_id(main)
    for venue in venues[:MAX_VENUES]:
        filtered = _complete(walk(ctx.probe, {"venue_id": venue, "limit": limit}))
        for raw, page in filtered.raw_events():
            where = raw.get("venue_id") if isinstance(raw, dict) else None
            if where != venue:
                event_id = raw.get("id") if isinstance(raw, dict) else None
                raise Failed(
                    f"venue_id={venue} listed event {event_id!r}, which is at {where!r}",
                    page.exchange,
                )
        expected = Counter(
            raw["id"]
            for raw, _ in main.raw_events()
            if isinstance(raw, dict) and raw.get("venue_id") == venue
        )
        _same_set(
            filtered,
            expected,
            f"venue_id={venue}",
            "is at that venue",
            lambda i: f"{i!r} (at {venue_of.get(i, 'no venue the unfiltered walk knows')!r})",
        )
    more = f" (the first {MAX_VENUES} of {len(venues)})" if len(venues) > MAX_VENUES else ""
    return f"{min(len(venues), MAX_VENUES)} venue(s){more}: each lists exactly its own events"


def check_unknown_venue(ctx: Context) -> str:
    """A venue_id the manifest does not list gets a 404 problem."""
    known = ctx.venue_ids()
    venue = UNKNOWN_VENUE
    while venue in known:
        venue += "-x"
    exchange = ctx.probe.get("/v1/events", {"venue_id": venue})
    return expect_problem(exchange, 404, "a venue_id the manifest does not list")


def check_time_window(ctx: Context) -> str:
    """`from` keeps events ending at or after it; `to` keeps events starting before it."""
    main = ctx.full_walk()
    limit = main.params["limit"]
    events = sorted(main.events, key=lambda e: (e.start, e.id))
    if not events:
        now = _format(datetime.now(UTC))
        exchange = ctx.probe.get("/v1/events", {"from": now, "to": now, "limit": limit})
        if exchange.status != 200:
            raise Failed(f"from/to answered {exchange.status}: {exchange.excerpt()}", exchange)
        return "no events to choose a window from; from and to are accepted"
    # Bounds sit exactly on events, so the inclusive `from` and exclusive `to` are tested too.
    low = _ends(events[len(events) // 3])
    high = events[(2 * len(events)) // 3].start
    windows: list[tuple[dict[str, str], Callable[[Event], bool], str]] = [
        ({"from": _format(low)}, lambda e: _ends(e) >= low, "ends at or after `from`"),
        ({"to": _format(high)}, lambda e: e.start < high, "starts before `to`"),
        (
            {"from": _format(low), "to": _format(high)},
            lambda e: _ends(e) >= low and e.start < high,
            "ends at or after `from` and starts before `to`",
        ),
    ]
    # Events that do not validate (see events_valid) have no times to judge them by.
    invalid = set(main.ids) - {e.id for e in events}
    for params, keep, rule in windows:
        query = " ".join(f"{k}={v}" for k, v in params.items())
        window = _complete(walk(ctx.probe, {**params, "limit": limit}))
        expected = Counter(e.id for e in events if keep(e))
        _same_set(window, expected, query, rule, _timed(events), ignore=invalid)
    return f"from={_format(low)} and to={_format(high)}, alone and together, keep the right events"


def _complete(result: Walk) -> Walk:
    if result.stopped is not None:
        raise Failed(f"the walk stopped: {result.stopped}", result.stopped.exchange)
    return result


def _same_set(
    result: Walk,
    expected: Counter[str],
    query: str,
    rule: str,
    describe: Callable[[str], str],
    ignore: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Fail when a filtered walk lists an event it should not, or leaves one out."""
    got = Counter(i for i in result.ids if i not in ignore)
    extra, missing = sorted(got - expected), sorted(expected - got)
    if extra:
        page = next(p for p in result.pages if extra[0] in p.ids)
        raise Failed(
            f"{query} listed {_names(extra, describe)}; it should keep only an event that {rule}",
            page.exchange,
        )
    if missing:
        raise Failed(
            f"{query} left out {len(missing)} event(s) that {rule}: {_names(missing, describe)}",
            result.pages[0].exchange if result.pages else None,
        )


def _venues_by_id(result: Walk) -> dict[str, object]:
    return {
        raw["id"]: raw.get("venue_id")
        for raw, _ in result.raw_events()
        if isinstance(raw, dict) and isinstance(raw.get("id"), str)
    }


def _ends(event: Event) -> datetime:
    """When an event ends, for `from`: its end, or its start when it has none."""
    return event.end or event.start


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _names(ids: list[str], describe: Callable[[str], str]) -> str:
    shown = ", ".join(describe(i) for i in ids[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def _timed(events: list[Event]) -> Callable[[str], str]:
    by_id = {e.id: e for e in events}

    def describe(event_id: str) -> str:
        """The event's id with its start and end."""
        event = by_id.get(event_id)
        if event is None:
            return f"{event_id!r} (not in the unfiltered walk)"
        end = _format(event.end) if event.end else "none"
        return f"{event_id!r} (start {_format(event.start)}, end {end})"

    return describe
