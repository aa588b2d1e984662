"""One run of one plugin: manifest, every page of events, validation, staging, atomic apply.

Whatever happens, the run ends with a run record and the plugin's state updated; the stored
events change only if every page arrived and the run is applied in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from base_service import schedule
from base_service.client import PluginClient
from base_service.config import PluginConfig, Settings
from base_service.errors import (
    PluginError,
    PluginTimeout,
    RunLimitExceeded,
    TooManyInvalidEvents,
)
from base_service.generated.plugin_api import Manifest
from base_service.store import ingest, state
from base_service.store.tables import plugins
from base_service.validation import Rejected, parse_manifest, parse_page

logger = logging.getLogger(__name__)
_KEPT_REASONS = 100  # quarantine reasons stored per run; the count covers all of them
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RunReport:
    """What the scheduler needs to know after a run."""

    run_id: int
    outcome: str
    plugin_state: str
    next_run_at: datetime
    result: state.RunResult


@dataclass
class _Progress:
    pages: int = 0
    fetched: int = 0
    quarantined: int = 0
    manifest: Manifest | None = None

    def __post_init__(self) -> None:
        self.reasons: list[tuple[str | None, str]] = []

    def reject(self, rejected: list[Rejected], count: int | None = None) -> None:
        """Count rejected events (`count` when more were rejected than listed); keep reasons."""
        self.quarantined += len(rejected) if count is None else count
        room = _KEPT_REASONS - len(self.reasons)
        self.reasons.extend((item.event_id, item.reason) for item in rejected[:room])


class Poller:
    """Runs plugins: one `run` call is one complete run of one plugin."""

    def __init__(
        self, engine: AsyncEngine, http: httpx.AsyncClient, settings: Settings, clock: Clock
    ) -> None:
        self._engine = engine
        self._http = http
        self._settings = settings
        self._clock = clock

    async def run(self, plugin: PluginConfig, trigger: str) -> RunReport:
        """Run a plugin once and record the outcome; never raises for plugin faults."""
        run_id = await state.start_run(self._engine, plugin.plugin_id, trigger, self._clock())
        log = {"plugin_id": plugin.plugin_id, "run_id": run_id}
        logger.info("run started", extra={"action": "run_started", "trigger": trigger, **log})
        client = PluginClient(self._http, plugin, self._settings)
        progress = _Progress()
        try:
            async with asyncio.timeout(self._settings.run_timeout_seconds):
                await self._fetch(client, plugin, run_id, progress)
                return await self._succeed(plugin, run_id, progress)
        except TimeoutError:
            error: PluginError = PluginTimeout(
                f"run exceeded its deadline of {self._settings.run_timeout_seconds:g}s"
            )
        except PluginError as exc:
            error = exc
        except asyncio.CancelledError:
            await asyncio.shield(self._abandon(run_id))
            raise
        except Exception as exc:
            logger.exception("run crashed", extra={"action": "run_crashed", **log})
            error = PluginError(f"internal error: {type(exc).__name__}: {exc}")
            error.kind = "internal_error"
        return await self._fail(plugin, run_id, progress, error)

    async def _fetch(
        self, client: PluginClient, plugin: PluginConfig, run_id: int, progress: _Progress
    ) -> None:
        manifest = parse_manifest(await client.get("/v1/manifest"))
        progress.manifest = manifest
        venue_ids = frozenset(venue.id for venue in manifest.venues)
        limit = min(self._settings.page_size, manifest.max_page_size)
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            params: dict[str, str | int] = {"limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            page = parse_page(await client.get("/v1/events", params), venue_ids)
            progress.pages += 1
            progress.fetched += len(page.events) + len(page.rejected)
            progress.reject(page.rejected)
            if progress.fetched > self._settings.max_events_per_run:
                raise RunLimitExceeded(
                    f"more than MAX_EVENTS_PER_RUN={self._settings.max_events_per_run} events"
                )
            await ingest.stage_events(self._engine, run_id, plugin.plugin_id, page.events)
            cursor = page.next_cursor
            if cursor is None:
                break
            if cursor in seen_cursors:
                raise RunLimitExceeded(f"cursor repeated after {progress.pages} pages")
            if progress.pages >= self._settings.max_pages_per_run:
                raise RunLimitExceeded(
                    f"more than MAX_PAGES_PER_RUN={self._settings.max_pages_per_run} pages"
                )
            seen_cursors.add(cursor)
        ratio = self._settings.quarantine_max_ratio
        if progress.fetched and progress.quarantined / progress.fetched > ratio:
            raise TooManyInvalidEvents(
                f"{progress.quarantined} of {progress.fetched} events failed validation "
                f"(over QUARANTINE_MAX_RATIO={ratio:g})"
            )

    async def _succeed(self, plugin: PluginConfig, run_id: int, progress: _Progress) -> RunReport:
        assert progress.manifest is not None
        now = self._clock()
        interval = schedule.effective_interval(
            plugin.interval_override,
            progress.manifest.refresh_interval_seconds,
            self._settings.default_interval_seconds,
        )
        next_run_at = schedule.next_slot(plugin.plugin_id, interval, now)
        async with self._engine.begin() as conn:
            counts = await ingest.apply_run(
                conn,
                run_id=run_id,
                plugin_id=plugin.plugin_id,
                manifest=progress.manifest,
                now=now,
            )
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
            await state.finish_run(
                conn,
                run_id=run_id,
                plugin_id=plugin.plugin_id,
                result=result,
                reasons=progress.reasons,
                state="ok",
                consecutive_failures=0,
                next_run_at=next_run_at,
                manifest=progress.manifest.model_dump(mode="json"),
                now=now,
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
            },
        )
        return RunReport(run_id, "success", "ok", next_run_at, result)

    async def _fail(
        self, plugin: PluginConfig, run_id: int, progress: _Progress, error: PluginError
    ) -> RunReport:
        await ingest.discard_run(self._engine, run_id)
        now = self._clock()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(plugins.c.consecutive_failures, plugins.c.manifest).where(
                        plugins.c.plugin_id == plugin.plugin_id
                    )
                )
            ).one()
            failures = row.consecutive_failures + 1
            known: dict[str, Any] = row.manifest or {}
            interval = schedule.effective_interval(
                plugin.interval_override,
                known.get("refresh_interval_seconds"),
                self._settings.default_interval_seconds,
            )
            next_run_at = schedule.retry_at(
                failures, interval, self._settings.failure_backoff_seconds, now
            )
            plugin_state = {"unreachable": "unreachable", "incompatible": "incompatible"}.get(
                error.kind, "failing"
            )
            result = state.RunResult(
                outcome="failed",
                pages=progress.pages,
                fetched=progress.fetched,
                quarantined=progress.quarantined,
                error_kind=error.kind,
                error=str(error),
            )
            await state.finish_run(
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
            )
        logger.warning(
            "run failed",
            extra={
                "action": "run_failed",
                "plugin_id": plugin.plugin_id,
                "run_id": run_id,
                "error_kind": error.kind,
                "error": str(error),
                "consecutive_failures": failures,
            },
        )
        return RunReport(run_id, "failed", plugin_state, next_run_at, result)

    async def _abandon(self, run_id: int) -> None:
        try:
            await state.abandon_runs(self._engine, self._clock(), run_ids=[run_id])
        except Exception:
            logger.exception("could not mark run abandoned", extra={"action": "run_abandon_failed"})
