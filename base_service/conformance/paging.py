"""Checks of paging: walks end, cursors are stable, `limit` is honoured."""

from __future__ import annotations

from base_service.conformance.context import Context, Failed, Skipped
from base_service.conformance.probe import Exchange
from base_service.conformance.walk import PAGE_CAP, Walk

LIMIT_MAX = 10000  # the contract's largest `limit`


def check_pagination(ctx: Context) -> str:
    """A walk reaches next_cursor null within the page cap, and no cursor comes back."""
    walk = ctx.main_walk()
    stopped = walk.stopped
    if stopped is None:
        return f"{len(walk.pages)} page(s), the last with next_cursor null (cap {PAGE_CAP})"
    if stopped.kind == "endless":
        raise Failed(stopped.args[0], stopped.exchange)
    raise Skipped("the walk stopped on an answer off the contract (see events_valid)")


def check_cursor_stability(ctx: Context) -> str:
    """Walking twice gives the same ids in the same order; a reused cursor gives the same page."""
    main = ctx.full_walk()
    first, second = ctx.small_walk("1"), ctx.small_walk("2")
    for walk in (first, second):
        _require_complete(walk)
    _same_order(first, second, "a second walk at the same limit")
    _same_order(main, first, f"a walk at limit {first.params['limit']}")
    reused = 0
    for number, page in enumerate(first.pages[:-1], start=1):
        if number > 3:
            break
        cursor = page.page.next_cursor
        assert cursor is not None  # every page but the last has one
        again = ctx.probe.get("/v1/events", {**first.params, "cursor": cursor})
        expected = first.pages[number].ids
        if again.status != 200:
            raise Failed(
                f"reusing the next_cursor of page {number} answered {again.status}: "
                f"{again.excerpt()}",
                again,
            )
        got = _ids(again)
        if got != expected:
            raise Failed(
                f"reusing the next_cursor of page {number} gave {_describe(got)}, not the "
                f"{_describe(expected)} it gave the first time",
                again,
            )
        reused += 1
    return (
        f"two walks at limit {first.params['limit']} ({len(first.pages)} pages) and one at "
        f"limit {main.params['limit']} list the same {len(main.ids)} id(s) in the same order; "
        f"{reused} cursor(s) reused with the same result"
    )


def check_limit(ctx: Context) -> str:
    """No page holds more events than `limit` asks, nor more than max_page_size."""
    manifest = ctx.manifest()
    ceiling = manifest.max_page_size
    walks = [ctx.main_walk()]
    if ctx.main_walk().complete:
        walks.append(ctx.small_walk("1"))
    for walk in walks:
        asked = int(walk.params["limit"])
        for page in walk.pages:
            if len(page.raw_events) > asked:
                raise Failed(
                    f"{len(page.raw_events)} events on a page asked for at most {asked}",
                    page.exchange,
                )
    probes = [(1, 1)]
    if ceiling < LIMIT_MAX:
        probes.append((ceiling + 1, ceiling))
    for asked, allowed in probes:
        exchange = ctx.probe.get("/v1/events", {"limit": asked})
        if exchange.status != 200:
            rule = "" if asked == 1 else " (a limit above max_page_size means max_page_size)"
            raise Failed(
                f"limit={asked} answered {exchange.status}{rule}: {exchange.excerpt()}", exchange
            )
        got = len(_ids(exchange))
        if got > allowed:
            raise Failed(
                f"limit={asked} returned {got} events; at most {allowed} allowed "
                f"(max_page_size {ceiling})",
                exchange,
            )
    sizes = ", ".join(str(w.params["limit"]) for w in walks)
    return f"pages at limit {sizes}, 1 and max_page_size+1 never hold more than allowed"


def _require_complete(walk: Walk) -> None:
    if walk.stopped is not None:
        raise Failed(
            f"a walk at limit {walk.params['limit']} stopped: {walk.stopped}", walk.stopped.exchange
        )


def _same_order(expected: Walk, got: Walk, what: str) -> None:
    want, have = expected.ids, got.ids
    if want == have:
        return
    for position, (a, b) in enumerate(zip(want, have, strict=False)):
        if a != b:
            page = _page_of(got, position)
            raise Failed(
                f"{what} differs at position {position + 1}: {b!r} where the walk at limit "
                f"{expected.params['limit']} had {a!r}",
                page,
            )
    raise Failed(
        f"{what} lists {len(have)} id(s); the walk at limit {expected.params['limit']} "
        f"listed {len(want)}",
        got.last.exchange if got.last else None,
    )


def _page_of(walk: Walk, position: int) -> str | None:
    seen = 0
    for page in walk.pages:
        seen += len(page.ids)
        if position < seen:
            return page.exchange.request
    return None


def _ids(exchange: Exchange) -> list[str]:
    """The ids on a page, in order, read from the raw JSON."""
    try:
        document = exchange.json()
    except ValueError:
        raise Failed("the answer is not JSON", exchange) from None
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise Failed("the answer has no 'events' array", exchange)
    return [str(e.get("id")) if isinstance(e, dict) else "" for e in events]


def _describe(ids: list[str]) -> str:
    if not ids:
        return "no events"
    return f"{len(ids)} event(s) from {ids[0]!r}"
