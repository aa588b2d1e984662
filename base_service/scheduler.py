"""The loop that starts runs when they are due. What is due is decided in `schedule`.

One asyncio task sleeps until the earliest next run (or until woken by a run-now request),
starts every due plugin as its own task, bounded by MAX_CONCURRENT_RUNS, and never starts a
plugin that is already running. A run's failure is recorded by the poller; nothing a plugin does
can stop the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from base_service import schedule
from base_service.config import PluginConfig, Settings
from base_service.errors import RunInProgress, UnknownPlugin
from base_service.poller import Poller
from base_service.store import state

logger = logging.getLogger(__name__)
_MAX_SLEEP = 60.0  # re-check at least this often, so a changed clock is noticed
_LATE_AFTER = 30.0  # a scheduled run starting this many seconds after its time is logged late


class Scheduler:
    """Owns the run loop and the in-flight runs of every registered plugin."""

    def __init__(
        self,
        plugins: list[PluginConfig],
        poller: Poller,
        engine: AsyncEngine,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self._plugins = {plugin.plugin_id: plugin for plugin in plugins}
        self._poller = poller
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._next_runs: dict[str, datetime | None] = {}
        self._manual: dict[str, bool] = {}  # plugin id -> force, for requested runs
        self._running: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def running(self) -> frozenset[str]:
        """Ids of the plugins with a run in flight."""
        return frozenset(self._running)

    def next_run_at(self, plugin_id: str) -> datetime | None:
        """When the plugin runs next, as the scheduler sees it now."""
        return self._next_runs.get(plugin_id)

    async def start(self) -> None:
        """Load persisted next-run times, sweep interrupted runs, and start the loop."""
        now = self._clock()
        swept = await state.abandon_runs(self._engine, now)
        if swept:
            logger.warning(
                "abandoned interrupted runs", extra={"action": "runs_swept", "count": swept}
            )
        persisted = await state.register_plugins(
            self._engine, [(p.plugin_id, p.url) for p in self._plugins.values()], now
        )
        for plugin_id, when in persisted.items():
            self._next_runs[plugin_id] = when or schedule.first_run_at(
                plugin_id, now, self._settings.first_run_spread_seconds
            )
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler")

    def request_run(self, plugin_id: str, force: bool = False) -> None:
        """Run a plugin as soon as a slot is free; raise if unknown or already running.

        `force` lets the run through the snapshot guards (see `Poller.run`).
        """
        if plugin_id not in self._plugins:
            raise UnknownPlugin(plugin_id)
        if plugin_id in self._running:
            raise RunInProgress(plugin_id)
        self._next_runs[plugin_id] = self._clock()
        self._manual[plugin_id] = force
        self._wake.set()

    async def stop(self, grace_seconds: float) -> None:
        """Stop the loop; let runs in flight finish for up to `grace_seconds`, then cancel them."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        in_flight = list(self._running.values())
        if not in_flight:
            return
        _, pending = await asyncio.wait(in_flight, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning(
                "cancelled runs at shutdown",
                extra={"action": "runs_cancelled", "count": len(pending)},
            )
            await asyncio.wait(pending)

    async def _loop(self) -> None:
        while True:
            now = self._clock()
            for plugin_id in schedule.due(self._next_runs, self._running, now):
                self._launch(plugin_id, now)
            delay = schedule.seconds_until_next(self._next_runs, self._running, now)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), _MAX_SLEEP if delay is None else min(delay, _MAX_SLEEP)
                )

    def _launch(self, plugin_id: str, now: datetime) -> None:
        manual = plugin_id in self._manual
        force = self._manual.pop(plugin_id, False)
        due_at = self._next_runs[plugin_id]
        if not manual and due_at is not None and (now - due_at).total_seconds() > _LATE_AFTER:
            logger.warning(
                "run starts late",
                extra={
                    "action": "run_late",
                    "plugin_id": plugin_id,
                    "due_at": due_at.isoformat(),
                    "late_seconds": (now - due_at).total_seconds(),
                },
            )
        trigger = "manual" if manual else "schedule"
        task = asyncio.create_task(self._run(plugin_id, trigger, force), name=f"run-{plugin_id}")
        self._running[plugin_id] = task

    async def _run(self, plugin_id: str, trigger: str, force: bool) -> None:
        plugin = self._plugins[plugin_id]
        try:
            async with self._slots:
                report = await self._poller.run(plugin, trigger, force)
            self._next_runs[plugin_id] = report.next_run_at
        except asyncio.CancelledError:
            raise
        except Exception:
            # The poller records plugin faults itself; this is a fault of ours (the database,
            # say). Keep the loop alive and try again after the failure backoff.
            logger.exception(
                "run could not be recorded", extra={"action": "run_error", "plugin_id": plugin_id}
            )
            self._next_runs[plugin_id] = schedule.retry_at(
                1,
                self._settings.default_interval_seconds,
                self._settings.failure_backoff_seconds,
                self._clock(),
            )
        finally:
            self._running.pop(plugin_id, None)
            self._wake.set()
