"""Checks of the optional features of contract 1.1: ETag / If-None-Match and incremental sync.

A plugin that does not offer a feature gets SKIP; one that offers it must get it right.
"""

from __future__ import annotations

from base_service.conformance.context import Context, Failed, Skipped
from base_service.conformance.probe import Exchange
from base_service.conformance.walk import walk

INCREMENTAL = "incremental_sync"
STALE_TAG = '"conformance-kit-stale-tag"'
UNKNOWN_SYNC_TOKEN = "conformance-kit-unknown-sync-token"


def check_etag(ctx: Context) -> str:
    """If the first page has an ETag, If-None-Match with it answers 304, another tag 200."""
    main = ctx.full_walk()
    first = main.pages[0]
    tag = first.exchange.headers.get("ETag")
    if not tag:
        raise Skipped("the first page has no ETag (optional)")
    params = dict(main.params)
    again = ctx.probe.get("/v1/events", params, headers={"If-None-Match": tag})
    if again.status != 304:
        raise Failed(
            f"If-None-Match with the first page's ETag answered {again.status}, not 304 "
            "(nothing changed since)",
            again,
        )
    if again.body:
        raise Failed(f"the 304 has a body ({len(again.body)} bytes); it must have none", again)
    other = ctx.probe.get("/v1/events", params, headers={"If-None-Match": STALE_TAG})
    if other.status != 200:
        raise Failed(
            f"If-None-Match with a tag the plugin never sent answered {other.status}, not 200",
            other,
        )
    return f"ETag {tag} gets 304 back; another tag gets the page"


def check_incremental_sync(ctx: Context) -> str:
    """With incremental_sync, a walk ends with a sync_token that starts a valid next walk."""
    manifest = ctx.manifest()
    main = ctx.full_walk()
    last = main.pages[-1]
    token = last.document.get("sync_token")
    if INCREMENTAL not in manifest.capabilities:
        note = "; its last page has a sync_token all the same" if token else ""
        raise Skipped(f"the manifest does not list the {INCREMENTAL} capability (optional){note}")
    if not isinstance(token, str) or not token:
        raise Failed(
            f"the manifest lists {INCREMENTAL}, but the last page of a walk has no sync_token",
            last.exchange,
        )
    resumed = walk(ctx.probe, main.params, first={"sync_token": token})
    if resumed.stopped is not None:
        raise Failed(
            f"the walk started with the sync_token stopped: {resumed.stopped}",
            resumed.stopped.exchange,
        )
    mode = resumed.pages[0].document.get("mode", "full")
    for page in resumed.pages:
        if page.page.rejected:
            raise Failed(
                f"an event of the sync walk does not validate: {page.page.rejected[0].reason}",
                page.exchange,
            )
        if page.document.get("mode", "full") != mode:
            raise Failed(
                f"the sync walk began in mode {mode!r} and changed mode on a later page",
                page.exchange,
            )
    if mode == "full" and set(resumed.ids) != set(main.ids):
        raise Failed(
            "the sync walk answered mode 'full' but not the full snapshot the plain walk gave "
            f"({len(resumed.ids)} events, not {len(main.ids)})",
            resumed.pages[0].exchange,
        )
    next_token = resumed.pages[-1].document.get("sync_token")
    if not isinstance(next_token, str) or not next_token:
        raise Failed("the last page of the sync walk has no sync_token", resumed.pages[-1].exchange)
    unknown = ctx.probe.get("/v1/events", {**main.params, "sync_token": UNKNOWN_SYNC_TOKEN})
    if unknown.status != 200:
        raise Failed(
            f"a sync_token the plugin never issued answered {unknown.status}; the contract "
            "asks for a full snapshot (mode 'full') instead",
            unknown,
        )
    unknown_mode = _mode(unknown)
    if unknown_mode != "full":
        raise Failed(
            f"a sync_token the plugin never issued got mode {unknown_mode!r}, not 'full'",
            unknown,
        )
    changed = sum(len(p.document.get("removed_ids") or []) for p in resumed.pages)
    return (
        f"a walk started with the sync_token answers mode {mode!r} "
        f"({len(resumed.ids)} event(s), {changed} removal(s)); an unknown token gets 'full'"
    )


def _mode(exchange: Exchange) -> object:
    """The `mode` of a page answer, or None when it is not a JSON object."""
    try:
        document = exchange.json()
    except ValueError:
        return None
    return document.get("mode", "full") if isinstance(document, dict) else None
