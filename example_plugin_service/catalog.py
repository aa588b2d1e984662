"""The snapshot of events the API serves: feeds loaded, cached, kept when a reload fails, paged."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from example_plugin_service.config import Settings
from example_plugin_service.cursors import SortKey, decode_cursor, encode_cursor
from example_plugin_service.feeds import events_from_ics
from example_plugin_service.generated.plugin_api import Event, EventsPage, Health, Status
from example_plugin_service.sources import read_feed
from example_plugin_service.venues import VenueConfig

logger = logging.getLogger(__name__)

MAX_HEALTH_DETAIL = 2000
# Health answers quickly (container checks time out in seconds); slower reloads go on behind.
HEALTH_WAIT_SECONDS = 2.0


class UnknownVenueError(LookupError):
    """The request names a venue the plugin does not report."""

    def __init__(self, venue_id: str) -> None:
        super().__init__(f"no venue has the id {venue_id!r}")
        self.venue_id = venue_id


class FeedUnavailableError(Exception):
    """A feed the answer needs has never loaded, so no complete answer can be given."""

    def __init__(self, venue_id: str, reason: str) -> None:
        super().__init__(f"the feed of venue {venue_id!r} has not loaded yet: {reason}")
        self.venue_id = venue_id


@dataclass
class _Entry:
    key: SortKey
    event: Event


@dataclass
class _FeedState:
    """What is known of one venue's feed: its last good parse and its latest attempt."""

    venue: VenueConfig
    entries: list[_Entry] | None = None
    loaded_at: float | None = None
    attempted_at: float | None = None
    error: str | None = None
    generation: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


class Catalog:
    """Every venue's events, each feed reloaded when older than the cache lifetime."""

    def __init__(
        self,
        venues: Sequence[VenueConfig],
        settings: Settings,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = utc_now,
        health_wait: float = HEALTH_WAIT_SECONDS,
    ) -> None:
        self._settings = settings
        self._health_wait = health_wait
        self._client = client
        self._clock = clock
        self._states = {venue.id: _FeedState(venue) for venue in venues}
        self._merged: tuple[tuple[int, ...], list[_Entry], list[SortKey]] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def venue_ids(self) -> list[str]:
        """The ids of the venues, in the venues file's order."""
        return list(self._states)

    async def refresh(self, venue_ids: Sequence[str] | None = None) -> None:
        """Reload the feeds (all, or the named venues') whose cached parse is stale."""
        states = [self._states[v] for v in venue_ids] if venue_ids else self._states.values()
        await asyncio.gather(*(self._ensure_fresh(state) for state in states))

    def refresh_in_background(self) -> asyncio.Task[None]:
        """Start reloading the stale feeds without waiting for them."""
        task = asyncio.create_task(self.refresh(), name="refresh-feeds")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Stop the reloads still running in the background."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def health(self) -> Health:
        """ok when every feed reads, degraded when some fail, down when none does."""
        task = self.refresh_in_background()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self._health_wait)
        except TimeoutError:
            logger.info("Health answered while feeds are still loading")
        failing = [s for s in self._states.values() if s.error is not None or s.entries is None]
        total = len(self._states)
        readable = total - len(failing)
        summary = f"{readable} of {total} feeds readable"
        if not failing:
            return Health(status=Status.ok, detail=summary)
        now = time.monotonic()
        reasons = "; ".join(f"{s.venue.id}: {self._describe_failure(s, now)}" for s in failing)
        status = Status.down if readable == 0 else Status.degraded
        detail = f"{summary}; failing: {reasons}"
        if len(detail) > MAX_HEALTH_DETAIL:
            detail = detail[: MAX_HEALTH_DETAIL - 1] + "…"
        return Health(status=status, detail=detail)

    async def page(
        self,
        *,
        venue_id: str | None = None,
        start_from: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> EventsPage:
        """One page of events in (start, id) order, strictly after the cursor's event."""
        if venue_id is not None and venue_id not in self._states:
            raise UnknownVenueError(venue_id)
        after = decode_cursor(cursor) if cursor is not None else None
        limit = max(1, min(limit, self._settings.max_page_size))
        entries, keys = await self._snapshot(venue_id)
        first = bisect_right(keys, after) if after is not None else 0
        chosen: list[_Entry] = []
        for entry in entries[first:]:
            event = entry.event
            # The listing is in start order, so nothing later can start before `until`.
            if until is not None and event.start >= until:
                break
            if start_from is not None and (event.end or event.start) < start_from:
                continue
            chosen.append(entry)
            if len(chosen) > limit:
                break
        more = len(chosen) > limit
        chosen = chosen[:limit]
        next_cursor = encode_cursor(chosen[-1].key) if more else None
        return EventsPage(events=[entry.event for entry in chosen], next_cursor=next_cursor)

    async def etag(
        self, venue_id: str | None, start_from: datetime | None, until: datetime | None
    ) -> str:
        """A tag of everything a walk with these filters returns: same content, same tag."""
        if venue_id is not None and venue_id not in self._states:
            raise UnknownVenueError(venue_id)
        entries, _ = await self._snapshot(venue_id)
        digest = hashlib.sha256(f"{venue_id}|{start_from}|{until}".encode())
        for entry in entries:
            digest.update(entry.event.model_dump_json().encode())
        return f'"{digest.hexdigest()[:32]}"'

    async def _snapshot(self, venue_id: str | None) -> tuple[list[_Entry], list[SortKey]]:
        """The complete, sorted events of one venue or of all; never a partial snapshot."""
        wanted = [venue_id] if venue_id is not None else self.venue_ids
        await self.refresh(wanted)
        states = [self._states[v] for v in wanted]
        for state in states:
            if state.entries is None:
                # The base service treats a missing event as removed, so answer nothing.
                raise FeedUnavailableError(state.venue.id, state.error or "not loaded")
        if venue_id is not None:
            entries = states[0].entries or []
            return entries, [entry.key for entry in entries]
        versions = tuple(state.generation for state in states)
        if self._merged is None or self._merged[0] != versions:
            merged = sorted(
                (entry for state in states for entry in state.entries or []),
                key=lambda entry: entry.key,
            )
            self._merged = (versions, merged, [entry.key for entry in merged])
        return self._merged[1], self._merged[2]

    async def _ensure_fresh(self, state: _FeedState) -> None:
        asked_at = time.monotonic()
        if not self._is_stale(state, asked_at):
            return
        async with state.lock:
            # Whoever held the lock may just have tried; one attempt serves every waiter.
            if state.attempted_at is not None and state.attempted_at >= asked_at:
                return
            if not self._is_stale(state, time.monotonic()):
                return
            await self._load(state)

    def _is_stale(self, state: _FeedState, now: float) -> bool:
        if state.attempted_at is None:
            return True
        if state.entries is None:
            # Never loaded: every request tries again, so the service recovers promptly.
            return True
        return now - state.attempted_at >= self._settings.cache_seconds

    async def _load(self, state: _FeedState) -> None:
        venue = state.venue
        settings = self._settings
        now = self._clock()
        window_start = now - timedelta(days=settings.window_past_days)
        window_end = now + timedelta(days=settings.window_future_days)
        try:
            data = await read_feed(
                venue,
                self._client,
                max_bytes=settings.feed_max_bytes,
                timeout=settings.feed_timeout_seconds,
            )
            # Parsing a large feed takes a while; keep the event loop answering meanwhile.
            events = await asyncio.to_thread(events_from_ics, data, venue, window_start, window_end)
        except Exception as error:  # any failure keeps the last good copy in service
            state.attempted_at = time.monotonic()
            state.error = str(error) or type(error).__name__
            kept = "keeping the last good copy" if state.entries is not None else "no copy yet"
            logger.warning("Feed of venue %s failed (%s): %s", venue.id, kept, state.error)
            return
        entries = [_Entry(SortKey(e.start.astimezone(UTC), e.id), e) for e in events]
        entries.sort(key=lambda entry: entry.key)
        state.entries = entries
        state.generation += 1
        state.attempted_at = state.loaded_at = time.monotonic()
        state.error = None
        logger.info("Feed of venue %s loaded: %d events", venue.id, len(entries))

    @staticmethod
    def _describe_failure(state: _FeedState, now: float) -> str:
        reason = state.error or "not loaded yet"
        if state.loaded_at is None:
            return f"{reason} (never loaded: listing its events fails)"
        age = int(now - state.loaded_at)
        return f"{reason} (serving the copy loaded {age} s ago)"
