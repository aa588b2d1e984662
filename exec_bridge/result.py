"""The command's last result: reused for CACHE_SECONDS, refreshed by one run at a time, and kept
when a refresh fails.

Requests never start a second run: while one is in flight, every request that needs a fresh
result waits for that one. A run that fails leaves the last good result in service (health
`degraded`); with no good result at all, requests get `Unavailable` (health `down`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from exec_bridge import runner
from exec_bridge.cursors import SortKey
from exec_bridge.generated.plugin_api import Event, Health, Manifest, Status
from exec_bridge.protocol import Output, ProtocolError, parse_output

logger = logging.getLogger(__name__)

MAX_HEALTH_DETAIL = 2000
# Health waits this long for the first run to finish, then answers anyway.
HEALTH_WAIT_SECONDS = 2.0


class Unavailable(Exception):
    """No run of the command has succeeded yet, so there is nothing to serve."""


@dataclass(frozen=True)
class Listing:
    """Events in (start, id) order, with their sort keys for bisecting."""

    events: list[Event] = field(default_factory=list)
    keys: list[SortKey] = field(default_factory=list)

    def after(self, key: SortKey | None) -> list[Event]:
        """The events strictly after `key` in listing order (all of them for None)."""
        return self.events[bisect_right(self.keys, key) :] if key is not None else self.events


@dataclass(frozen=True)
class Result:
    """A successful run's manifest and events, ready to be paged through."""

    manifest: Manifest
    everything: Listing
    by_venue: dict[str, Listing]
    dropped: int
    finished_at: datetime

    @classmethod
    def from_output(cls, output: Output, finished_at: datetime) -> Result:
        """Sort the output's events once; listing a page is then a bisect and a slice."""
        keyed = sorted(
            ((SortKey(e.start.astimezone(UTC), e.id), e) for e in output.events),
            key=lambda pair: pair[0],
        )
        by_venue: dict[str, Listing] = {venue.id: Listing() for venue in output.manifest.venues}
        for key, event in keyed:
            listing = by_venue[event.venue_id]
            listing.keys.append(key)
            listing.events.append(event)
        everything = Listing([e for _, e in keyed], [k for k, _ in keyed])
        return cls(output.manifest, everything, by_venue, output.dropped, finished_at)


class Results:
    """The last good result of the command and the state of its latest run."""

    def __init__(
        self,
        command: runner.Command,
        cache_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._command = command
        self._cache_seconds = cache_seconds
        self._clock = clock
        self.good: Result | None = None
        self.error: str | None = None
        self._finished_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    async def fresh(self) -> Result:
        """A result no older than CACHE_SECONDS, running the command if needed; or the last
        good one if that run fails. Unavailable when there is none."""
        if self.good is None or self._stale():
            await asyncio.shield(self.refresh())
        return self._usable()

    async def current(self) -> Result:
        """The last good result, however old; runs the command only when there is none."""
        if self.good is None:
            await asyncio.shield(self.refresh())
        return self._usable()

    def refresh(self) -> asyncio.Task[None]:
        """The run in flight, or a new one: never two at once."""
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._run(), name="exec-bridge-run")
        return self._inflight

    async def health(self) -> Health:
        """ok after a successful run, degraded on a failed one with a result kept, else down."""
        if self._finished_at is None and self._inflight is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._inflight), HEALTH_WAIT_SECONDS)
            except TimeoutError:
                pass
        good = self.good
        if good is None:
            if self.error is None:
                return _health(Status.down, f"the first run of {self._command.name} is not over")
            return _health(Status.down, f"no run has succeeded yet; last error: {self.error}")
        at = good.finished_at.isoformat(timespec="seconds")
        served = f"{len(good.everything.events)} events from the run at {at}"
        if good.dropped:
            served += f", {good.dropped} invalid events dropped"
        if self.error is not None:
            return _health(Status.degraded, f"last run failed: {self.error}; serving {served}")
        return _health(Status.ok, f"serving {served}")

    async def aclose(self) -> None:
        """Stop the run in flight, killing the command."""
        if self._inflight is not None:
            self._inflight.cancel()
            await asyncio.gather(self._inflight, return_exceptions=True)

    def _stale(self) -> bool:
        return self._finished_at is None or (
            self._clock() - self._finished_at >= self._cache_seconds
        )

    def _usable(self) -> Result:
        if self.good is None:
            raise Unavailable(self.error or "the command has not run yet")
        return self.good

    async def _run(self) -> None:
        name = self._command.name
        try:
            raw = await runner.run(self._command)
            # Parsing and validating megabytes of JSON would stall the event loop.
            output = await asyncio.to_thread(parse_output, raw, name)
        except (runner.RunError, ProtocolError) as error:
            self._failed(str(error))
        except Exception as error:  # a bug here must not stop the service from serving
            logger.exception("Run of %s failed unexpectedly", name)
            self._failed(f"{name}: {type(error).__name__}: {error}")
        else:
            self.good = Result.from_output(output, datetime.now(UTC))
            self.error = None
            logger.info(
                "Run of %s succeeded: %d events, %d invalid dropped",
                name,
                len(output.events),
                output.dropped,
            )
        finally:
            self._finished_at = self._clock()
            self._inflight = None

    def _failed(self, error: str) -> None:
        self.error = error
        kept = "keeping the last good result" if self.good else "no good result yet"
        logger.warning("Run failed (%s): %s", kept, error)


def _health(status: Status, detail: str) -> Health:
    if len(detail) > MAX_HEALTH_DETAIL:
        detail = detail[: MAX_HEALTH_DETAIL - 1] + "…"
    return Health(status=status, detail=detail)
