"""One run of one plugin: manifest, every page of events, validation, staging, atomic apply.

Whatever happens, the run ends with a run record and the plugin's state updated; the stored
events change only if every page arrived and the run is applied in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from base_service import schedule
from base_service.client import HttpClients, PluginClient
from base_service.config import PluginConfig, Settings
from base_service.errors import (
    ContractViolation,
    IdentityChanged,
    LeaseLost,
    PluginError,
    PluginTimeout,
    RunInProgress,
    RunLimitExceeded,
    TooManyInvalidEvents,
)
from base_service.generated.plugin_api import Event, Manifest
from base_service.metrics import Metrics
from base_service.store import ingest, state
from base_service.store.database import Store
from base_service.store.leases import Claim
from base_service.tasks import wait_out
from base_service.validation import Rejected, parse_manifest, parse_page

logger = logging.getLogger(__name__)
_KEPT_REASONS = 100  # quarantine reasons stored per run; the count covers all of them
INCREMENTAL_SYNC = "incremental_sync"  # the manifest capability (contract 1.1)
MAX_DEFER = timedelta(days=7)  # the furthest a plugin's hint may push its next run
Clock = Callable[[], datetime]
_COUNTED = ("fetched", "inserted", "updated", "removed", "quarantined")

# The plugin state a failure leaves behind; anything not listed is "failing".
_STATE_AFTER = {
    "unreachable": "unreachable",
    "incompatible": "incompatible",
    "rate_limited": "rate_limited",
}


@dataclass(frozen=True)
class RunReport:
    """What the scheduler needs to know after a run."""

    run_id: int
    outcome: str
    plugin_state: str
    next_run_at: datetime
    result: state.RunResult


@dataclass(frozen=True)
class DryRun:
    """What a run would change now, computed and then rolled back."""

    counts: state.RunResult
    quarantine: list[tuple[str | None, str]]
    not_modified: bool = False


_RENDER_SLICE = 200  # events rendered between two turns of the event loop: about 2 ms


class Batch(NamedTuple):
    """A validated page as staging takes it: its events' rows, rendered and bound
    (`ingest.staged_rows`), and the ids a change set removes."""

    rows: list[tuple[Any, ...]]
    removed_ids: list[str]


@dataclass
class _Progress:
    pages: int = 0
    fetched: int = 0
    quarantined: int = 0
    manifest: Manifest | None = None
    next_poll_after: datetime | None = None
    mode: str = "full"
    not_modified: bool = False  # the plugin answered 304 to our If-None-Match
    etag: str | None = None
    sync_token: str | None = None
    longest_event: float = 0.0  # seconds, over the events this run fetched
    last_page: Batch = field(default_factory=lambda: Batch([], []))  # staged by the final write
    reasons: list[tuple[str | None, str]] = field(default_factory=list)

    def reject(self, rejected: list[Rejected], count: int | None = None) -> None:
        """Count rejected events (`count` when more were rejected than listed); keep reasons."""
        self.quarantined += len(rejected) if count is None else count
        room = _KEPT_REASONS - len(self.reasons)
        self.reasons.extend((item.event_id, item.reason) for item in rejected[:room])


class _Stager:
    """Stages a run's pages behind the walk, and holds back the last one for the run's final
    write. A page is staged once the next one has come: page k is written (in the store's
    writer) while page k+2 is fetched and validated. The page the walk ends with is staged by
    the write that applies the run, in its transaction (a one-page run: one write fewer), so
    like the apply it is outside the run's deadline. At most one page is in flight and one
    held, and pages are staged in the order they came, which decides which of two same-id
    events wins."""

    def __init__(self, store: Store, run_id: int, plugin_id: str) -> None:
        self._store = store
        self._run_id = run_id
        self._plugin_id = plugin_id
        self._pending: asyncio.Task[None] | None = None
        self._held: Batch | None = None

    async def add(self, events: list[Event], removed_ids: list[str]) -> None:
        """Render a page's rows and hold them, and stage the page held before once the page
        before that is staged; raise what staging that one raised. Rendering here, not in
        the write, lets the writer's insert of one page run while the next is rendered."""
        rows = await self._render(events)
        held, self._held = self._held, Batch(rows, removed_ids)
        if held is not None:
            await self.flush()
            self._pending = asyncio.create_task(self._stage(held))

    async def _render(self, events: list[Event]) -> list[tuple[Any, ...]]:
        """A page's rows (`ingest.staged_rows`), a slice at a time: between slices the event
        loop serves what waits for it (listings), rather than a whole page's rendering (about
        9 ms for 1,000 events)."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(events), _RENDER_SLICE):
            if start:
                await asyncio.sleep(0)
            page_slice = events[start : start + _RENDER_SLICE]
            rows += ingest.staged_rows(
                self._store.dialect, self._run_id, self._plugin_id, page_slice
            )
        return rows

    async def last(self) -> Batch:
        """Wait for the page in flight; hand over the held page, for the final write."""
        await self.flush()
        held, self._held = self._held, None
        return Batch([], []) if held is None else held

    async def flush(self) -> None:
        """Wait for the page in flight, raising what its staging raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def settle(self) -> None:
        """End the page in flight, when the walk stopped early: the run is ending, and nothing
        may be staged after its staging is discarded. Waits until the staging task is over
        (its write done or never begun) even if this task is cancelled meanwhile, then passes
        the cancel on."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        pending.cancel()
        if await wait_out(pending):
            raise asyncio.CancelledError

    async def _stage(self, batch: Batch) -> None:
        await self._store.write(ingest.stage_rows, self._run_id, *batch)


class Poller:
    """Runs plugins: one `run` call is one complete run of one plugin."""

    def __init__(
        self,
        store: Store,
        http: HttpClients,
        settings: Settings,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._clients = http
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._dry_running: set[str] = set()  # one dry run per plugin at a time, per replica

    async def run(self, plugin: PluginConfig, claim: Claim) -> RunReport:
        """Run a plugin once, holding its lease, record the outcome, and count it in metrics.

        See `_run` for what can be raised.
        """
        started = time.perf_counter()
        async with self._clients.new() as http:
            client = PluginClient(http, plugin, self._settings, claim.trace_id)
            report = await self._run(plugin, claim, client)
        if self._metrics is not None:
            result = report.result
            counts = {name: getattr(result, name) for name in _COUNTED}
            self._metrics.run_finished(
                plugin.plugin_id,
                report.outcome,
                time.perf_counter() - started,
                client.retries,
                counts,
            )
        return report

    async def dry_run(self, plugin: PluginConfig) -> DryRun:
        """Fetch and validate like a run, and apply in a transaction that is rolled back.

        Needs no lease and changes nothing: staging goes under a negative run id no real run
        uses, and is deleted at the end. A sync token is not sent (the plugin might advance
        it); an ETag is, so an unchanged source answers "nothing would change".
        """
        if plugin.plugin_id in self._dry_running:
            raise RunInProgress(plugin.plugin_id)
        self._dry_running.add(plugin.plugin_id)
        try:
            async with self._clients.new() as http:
                return await self._dry_run(plugin, PluginClient(http, plugin, self._settings))
        finally:
            self._dry_running.discard(plugin.plugin_id)

    async def _dry_run(self, plugin: PluginConfig, client: PluginClient) -> DryRun:
        run_id = -1 - secrets.randbelow(2**31)
        known = {**await self._store.read(state.plugin_row, plugin.plugin_id), "sync_token": None}
        progress = _Progress()
        try:
            async with asyncio.timeout(self._settings.run_timeout_seconds):
                await self._fetch(client, plugin, run_id, progress, known, force=False)
                counts = ingest.ApplyCounts(0, 0, 0, [], 0)
                if not progress.not_modified:
                    counts = await self._apply_and_roll_back(plugin, run_id, progress)
        except TimeoutError:
            error: PluginError | None = PluginTimeout("dry run exceeded the run deadline")
        except PluginError as exc:
            error = exc
        else:
            error = None
        finally:
            await self._store.write(ingest.delete_staging, [run_id])
        if error is None:
            progress.reject(
                [Rejected(eid, "duplicate id within the run") for eid in counts.duplicates],
                count=counts.duplicate_count,
            )
        result = state.RunResult(
            outcome="dry_run" if error is None else "failed",
            pages=progress.pages,
            fetched=progress.fetched,
            inserted=0 if error else counts.inserted,
            updated=0 if error else counts.updated,
            removed=0 if error else counts.removed,
            quarantined=progress.quarantined,
            error_kind=error.kind if error else None,
            error=str(error) if error else None,
        )
        return DryRun(result, progress.reasons, progress.not_modified)

    async def _apply_and_roll_back(
        self, plugin: PluginConfig, run_id: int, progress: _Progress
    ) -> ingest.ApplyCounts:
        assert progress.manifest is not None
        guard = ingest.ShrinkGuard(
            self._settings.shrink_guard_ratio, self._settings.shrink_guard_min_events
        )
        return await self._store.write(
            _stage_and_apply,
            commit=False,
            run_id=run_id,
            plugin_id=plugin.plugin_id,
            last_page=progress.last_page,
            manifest=progress.manifest,
            now=self._clock(),
            full_snapshot=progress.mode == "full",
            shrink_guard=guard,
        )

    async def _run(self, plugin: PluginConfig, claim: Claim, client: PluginClient) -> RunReport:
        """Run a plugin once, holding its lease, and record the outcome.

        Never raises for plugin faults; raises LeaseLost if another replica took the plugin
        over meanwhile (nothing is then applied). `claim.force` lets an operator's run through
        the guards that hold back a suspicious snapshot (a sharp shrink, a changed plugin_id).
        """
        trigger, force = claim.trigger, claim.force
        run_id, known = await self._store.write(
            state.start_run, plugin.plugin_id, trigger, self._clock(), claim.owner
        )
        log = {"plugin_id": plugin.plugin_id, "run_id": run_id}
        logger.info(
            "run started",
            extra={"action": "run_started", "trigger": trigger, "trace_id": client.trace_id, **log},
        )
        progress = _Progress()
        deadline = asyncio.timeout(self._settings.run_timeout_seconds)
        try:
            async with deadline:
                await self._fetch(client, plugin, run_id, progress, known, force)
            # Outside the deadline, which bounds the plugin's answers: a write that has begun
            # ends (see Store), and its outcome must be recorded, not taken for a timeout.
            return await self._succeed(plugin, run_id, progress, claim, known)
        except TimeoutError as exc:
            if deadline.expired():
                error: PluginError = PluginTimeout(
                    f"run exceeded its deadline of {self._settings.run_timeout_seconds:g}s"
                )
            else:  # the database's, say: ours to fix, not the plugin's
                error = _crashed(exc, log)
        except PluginError as exc:
            error = exc
        except (asyncio.CancelledError, LeaseLost):
            await asyncio.shield(self._store.write(state.abandon_runs, self._clock(), [run_id]))
            raise
        except Exception as exc:
            error = _crashed(exc, log)
        return await self._fail(plugin, run_id, progress, known, error, claim.owner)

    async def _fetch(
        self,
        client: PluginClient,
        plugin: PluginConfig,
        run_id: int,
        progress: _Progress,
        known: dict[str, Any],
        force: bool,
    ) -> None:
        manifest = parse_manifest((await client.get("/v1/manifest")).body)
        previous_id = (known.get("manifest") or {}).get("plugin_id")
        if previous_id and previous_id != manifest.plugin_id and not force:
            raise IdentityChanged(
                f"manifest plugin_id changed from {previous_id!r} to {manifest.plugin_id!r}; "
                "if this URL now serves another plugin on purpose, run it with force=true"
            )
        progress.manifest = manifest
        stager = _Stager(self._store, run_id, plugin.plugin_id)
        try:
            await self._walk(client, manifest, stager, progress, known)
            progress.last_page = await stager.last()
        finally:
            await stager.settle()
        ratio = self._settings.quarantine_max_ratio
        if progress.fetched and progress.quarantined / progress.fetched > ratio:
            raise TooManyInvalidEvents(
                f"{progress.quarantined} of {progress.fetched} events failed validation "
                f"(over QUARANTINE_MAX_RATIO={ratio:g})"
            )

    async def _walk(
        self,
        client: PluginClient,
        manifest: Manifest,
        stager: _Stager,
        progress: _Progress,
        known: dict[str, Any],
    ) -> None:
        """Follow the event pages, validating each and handing it to `stager`."""
        incremental = INCREMENTAL_SYNC in manifest.capabilities
        venue_ids = frozenset(venue.id for venue in manifest.venues)
        limit = min(self._settings.page_size, manifest.max_page_size)
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            params: dict[str, str | int] = {"limit": limit}
            first = cursor is None
            if cursor is not None:
                params["cursor"] = cursor
            elif incremental and known.get("sync_token"):
                params["sync_token"] = known["sync_token"]
            reply = await client.get(
                "/v1/events", params, if_none_match=known.get("etag") if first else None
            )
            if reply.not_modified:
                progress.not_modified = True
                return
            page = parse_page(reply.body, venue_ids)
            if first:
                progress.mode, progress.etag = page.mode, reply.etag
                if page.mode == "changes" and "sync_token" not in params:
                    raise ContractViolation("a change set answered a walk without a sync_token")
            elif page.mode != progress.mode:
                raise ContractViolation(f"page {progress.pages + 1} changed mode mid-walk")
            progress.pages += 1
            progress.fetched += len(page.events) + len(page.rejected)
            progress.reject(page.rejected)
            if progress.fetched > self._settings.max_events_per_run:
                raise RunLimitExceeded(
                    f"more than MAX_EVENTS_PER_RUN={self._settings.max_events_per_run} events"
                )
            for event in page.events:
                if event.end is not None:
                    length = (event.end - event.start).total_seconds()
                    progress.longest_event = max(progress.longest_event, length)
            await stager.add(page.events, page.removed_ids)
            cursor = page.next_cursor
            if cursor is None:
                progress.next_poll_after = page.next_poll_after
                progress.sync_token = page.sync_token if incremental else None
                break
            if cursor in seen_cursors:
                raise RunLimitExceeded(f"cursor repeated after {progress.pages} pages")
            if progress.pages >= self._settings.max_pages_per_run:
                raise RunLimitExceeded(
                    f"more than MAX_PAGES_PER_RUN={self._settings.max_pages_per_run} pages"
                )
            seen_cursors.add(cursor)

    def _interval(self, plugin: PluginConfig, manifest: dict[str, Any] | None) -> int:
        return schedule.effective_interval(
            plugin.interval_override,
            (manifest or {}).get("refresh_interval_seconds"),
            self._settings.default_interval_seconds,
        )

    def _deferred(self, when: datetime, until: datetime | None, now: datetime) -> datetime:
        """`when`, pushed back to a plugin-requested instant (at most MAX_DEFER ahead)."""
        if until is None:
            return when
        return max(when, min(until, now + MAX_DEFER))

    async def _succeed(
        self,
        plugin: PluginConfig,
        run_id: int,
        progress: _Progress,
        claim: Claim,
        known: dict[str, Any],
    ) -> RunReport:
        assert progress.manifest is not None
        now = self._clock()
        manifest = progress.manifest.model_dump(mode="json")
        slot = schedule.next_slot(plugin.plugin_id, self._interval(plugin, manifest), now)
        next_run_at = self._deferred(slot, progress.next_poll_after, now)
        guard = (
            None
            if claim.force
            else ingest.ShrinkGuard(
                self._settings.shrink_guard_ratio, self._settings.shrink_guard_min_events
            )
        )

        def apply_and_finish(conn: Connection) -> state.RunResult:
            longest = known.get("max_event_seconds")
            if progress.not_modified:  # nothing changed since the last run: keep it all
                counts = ingest.ApplyCounts(0, 0, 0, [], 0)
                resume = state.Resume(known.get("sync_token"), known.get("etag"), longest)
            else:
                assert progress.manifest is not None
                counts = _stage_and_apply(
                    conn,
                    run_id=run_id,
                    plugin_id=plugin.plugin_id,
                    last_page=progress.last_page,
                    manifest=progress.manifest,
                    now=now,
                    full_snapshot=progress.mode == "full",
                    shrink_guard=guard,
                )
                if progress.mode == "full":
                    longest = int(progress.longest_event) + 1
                elif longest is not None:  # the events a change set does not name stay
                    longest = max(longest, int(progress.longest_event) + 1)
                # else a change set over events stored before lengths were recorded: their
                # longest stays unknown until the next full snapshot
                resume = state.Resume(progress.sync_token, progress.etag, longest)
            duplicates = [Rejected(eid, "duplicate id within the run") for eid in counts.duplicates]
            progress.reject(duplicates, count=counts.duplicate_count)
            result = state.RunResult(
                outcome="success",
                pages=progress.pages,
                fetched=progress.fetched,
                inserted=counts.inserted,
                updated=counts.updated,
                removed=counts.removed,
                quarantined=progress.quarantined,
            )
            state.finish_run(
                conn,
                run_id=run_id,
                plugin_id=plugin.plugin_id,
                result=result,
                reasons=progress.reasons,
                state="ok",
                consecutive_failures=0,
                next_run_at=next_run_at,
                manifest=manifest,
                now=self._clock(),  # finished once applied: the apply may take seconds
                owner=claim.owner,
                resume=resume,
            )
            return result

        result = await self._store.write(apply_and_finish)
        if result.quarantined:
            first_id, first_reason = progress.reasons[0] if progress.reasons else (None, "")
            logger.warning(
                "events quarantined",
                extra={
                    "action": "events_quarantined",
                    "plugin_id": plugin.plugin_id,
                    "run_id": run_id,
                    "count": result.quarantined,
                    "example_event_id": first_id,
                    "example_reason": first_reason,
                },
            )
        logger.info(
            "run succeeded",
            extra={
                "action": "run_succeeded",
                "plugin_id": plugin.plugin_id,
                "run_id": run_id,
                "fetched": result.fetched,
                "inserted": result.inserted,
                "updated": result.updated,
                "removed": result.removed,
                "quarantined": result.quarantined,
                "next_run_at": next_run_at.isoformat(),
            },
        )
        return RunReport(run_id, "success", "ok", next_run_at, result)

    async def _fail(
        self,
        plugin: PluginConfig,
        run_id: int,
        progress: _Progress,
        known: dict[str, Any],
        error: PluginError,
        owner: str,
    ) -> RunReport:
        now = self._clock()
        failures = known["consecutive_failures"] + 1
        retry = schedule.retry_at(
            failures,
            self._interval(plugin, known.get("manifest")),
            self._settings.failure_backoff_seconds,
            now,
        )
        until = None
        if error.retry_after is not None:  # capped first: a plugin may ask for centuries
            until = now + timedelta(seconds=min(error.retry_after, MAX_DEFER.total_seconds()))
        next_run_at = self._deferred(retry, until, now)
        plugin_state = _STATE_AFTER.get(error.kind, "failing")
        result = state.RunResult(
            outcome="failed",
            pages=progress.pages,
            fetched=progress.fetched,
            quarantined=progress.quarantined,
            error_kind=error.kind,
            error=str(error),
        )

        # Staging goes first, on its own: if the lease was lost meanwhile, the record below
        # rolls back, and the run's pages must not outlive it.
        await self._store.write(ingest.delete_staging, [run_id])

        def finish(conn: Connection) -> None:
            state.finish_run(
                conn,
                run_id=run_id,
                plugin_id=plugin.plugin_id,
                result=result,
                reasons=progress.reasons,
                state=plugin_state,
                consecutive_failures=failures,
                next_run_at=next_run_at,
                manifest=None,
                now=now,
                owner=owner,
            )

        await self._store.write(finish)
        logger.warning(
            "run failed",
            extra={
                "action": "run_failed",
                "plugin_id": plugin.plugin_id,
                "run_id": run_id,
                "error_kind": error.kind,
                "error": str(error),
                "consecutive_failures": failures,
                "next_run_at": next_run_at.isoformat(),
            },
        )
        return RunReport(run_id, "failed", plugin_state, next_run_at, result)


def _stage_and_apply(
    conn: Connection, *, run_id: int, plugin_id: str, last_page: Batch, **apply: Any
) -> ingest.ApplyCounts:
    """Stage a run's last page and apply the run, in one transaction (see `_Stager`)."""
    ingest.stage_rows(conn, run_id, *last_page)
    return ingest.apply_run(conn, run_id=run_id, plugin_id=plugin_id, **apply)


def _crashed(exc: Exception, log: dict[str, Any]) -> PluginError:
    """A fault of the base's own (a bug, the database): logged with its traceback, and
    recorded as the run's error."""
    logger.exception("run crashed", extra={"action": "run_crashed", **log})
    error = PluginError(f"internal error: {type(exc).__name__}: {exc}")
    error.kind = "internal_error"
    return error
