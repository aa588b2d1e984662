"""The loop that starts runs when they are due. What is due is decided in `schedule`; who may
run it (one replica of several) is decided by the leases in `store.leases`.

Each replica's loop reads the shared next-run times every SCHEDULER_POLL_SECONDS (sooner when
woken by a local run-now request), and for every plugin that looks due tries to claim its lease.
A run that ends here reports its next time, so the loop need not read the whole schedule again.
The replica that wins runs the plugin — bounded by MAX_CONCURRENT_RUNS, renewing the lease while
it runs — and the run's last transaction stores the next run time and frees the lease. A run's
failure is recorded by the poller; nothing a plugin does can stop the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from base_service import schedule
from base_service.config import PluginConfig, Settings
from base_service.errors import LeaseLost, RunInProgress, UnknownPlugin
from base_service.poller import Poller, RunReport
from base_service.store import leases, state
from base_service.store.database import Store

logger = logging.getLogger(__name__)
_LATE_AFTER = 30.0  # a scheduled run starting this many seconds after its time is logged late


def replica_id() -> str:
    """A name for this process among the replicas: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Scheduler:
    """Owns this replica's run loop and its runs in flight."""

    def __init__(
        self,
        plugins: list[PluginConfig],
        poller: Poller,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        alone: bool,
    ) -> None:
        """`alone`: this process is the only one on its database (SQLite), so leases and runs
        left by an earlier process can be cleared at start-up instead of waiting to expire."""
        self._plugins = {plugin.plugin_id: plugin for plugin in plugins}
        self._poller = poller
        self._store = store
        self._settings = settings
        self._clock = clock
        self._alone = alone
        self.owner = replica_id()
        self._next_runs: dict[str, datetime | None] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._asked_while_ending: set[str] = set()  # see `request_run`
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._wake = asyncio.Event()
        self._refresh = True  # read the shared schedule at the loop's next turn
        self._wakes_at = datetime.min.replace(tzinfo=UTC)  # when the loop will look again
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register the plugins and start the loop."""
        now = self._clock()
        if self._alone:
            await self._store.write(leases.release_all)
            swept = await self._store.write(state.abandon_runs, now)
            if swept:
                logger.warning(
                    "abandoned interrupted runs", extra={"action": "runs_swept", "count": swept}
                )
        spread = self._settings.first_run_spread_seconds
        await self._store.write(
            state.register_plugins,
            [
                (p.plugin_id, p.url, schedule.first_run_at(p.plugin_id, now, spread))
                for p in self._plugins.values()
            ],
            now,
        )
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler")

    async def request_run(
        self, plugin_id: str, force: bool = False, trace_id: str | None = None
    ) -> None:
        """Ask for a run now (any replica may take it); raise if unknown or already running.

        `force` lets the run through the snapshot guards (see `Poller.run`).
        """
        if plugin_id not in self._plugins:
            raise UnknownPlugin(plugin_id)
        here = self.owner if plugin_id in self._running else None
        if not await self._store.write(
            leases.request_run, plugin_id, self._clock(), force, trace_id, running_here=here
        ):
            raise RunInProgress(plugin_id)
        if here is not None:
            # Its run released the lease: it has recorded its outcome (what clients see) and
            # is only ending. The loop skips a running plugin, and the run's end sets its next
            # time from before this request, so the loop reads the schedule once it is over.
            self._asked_while_ending.add(plugin_id)
        self._refresh = True
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
        poll = self._settings.scheduler_poll_seconds
        read_at = -math.inf  # monotonic time of the last read of the shared schedule
        while True:
            # A wake from here on is for the next turn: one while the schedule is read (a
            # request, a run's end) may find the read already past what it changed.
            self._wake.clear()
            if self._refresh or time.monotonic() - read_at >= poll:
                self._refresh = False
                read_at = time.monotonic()
                try:
                    self._next_runs = await self._store.read(state.next_runs, list(self._plugins))
                except Exception:
                    # The database is unreachable: serve on, and try again at the next poll.
                    logger.exception(
                        "could not read the schedule", extra={"action": "schedule_error"}
                    )
            now = self._clock()
            for plugin_id in schedule.due(self._next_runs, self._running, now):
                self._launch(plugin_id)
            delay = schedule.seconds_until_next(self._next_runs, self._running, now)
            until_poll = max(0.0, read_at + poll - time.monotonic())
            timeout = until_poll if delay is None else min(delay, until_poll)
            self._wakes_at = now + timedelta(seconds=timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _launch(self, plugin_id: str) -> None:
        task = asyncio.create_task(self._run(plugin_id), name=f"run-{plugin_id}")
        self._running[plugin_id] = task

    async def _run(self, plugin_id: str) -> None:
        plugin = self._plugins[plugin_id]
        ttl = self._settings.lease_seconds
        report: RunReport | None = None
        try:
            async with self._slots:
                claim = await self._store.write(
                    leases.claim, plugin_id, self.owner, self._clock(), ttl
                )
                if claim is None:
                    return  # another replica runs it, or ran it already
                self._log_if_late(plugin_id, claim.trigger, self._clock())
                heartbeat = asyncio.create_task(self._renew(plugin_id))
                try:
                    report = await self._poller.run(plugin, claim)
                finally:
                    heartbeat.cancel()
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            logger.warning(
                "lease lost; the run was not applied",
                extra={"action": "lease_lost", "plugin_id": plugin_id},
            )
        except Exception:
            # The poller records plugin faults itself; this is a fault of ours (the database,
            # say). Keep the loop alive: the lease expires and the plugin is tried again.
            logger.exception(
                "run could not be recorded", extra={"action": "run_error", "plugin_id": plugin_id}
            )
        finally:
            if report is None:
                self._refresh = True  # not run here, or not recorded: read what is stored
            else:
                self._next_runs[plugin_id] = report.next_run_at
            self._running.pop(plugin_id, None)
            if plugin_id in self._asked_while_ending:
                self._asked_while_ending.discard(plugin_id)
                self._refresh = True  # a run was asked for since this one recorded its end
            # The loop needs to look again only if this run's next time comes before it would
            # wake anyway (with 1,000 plugins, a look is a walk over all of them).
            if report is None or self._refresh or report.next_run_at < self._wakes_at:
                self._wake.set()

    async def _renew(self, plugin_id: str) -> None:
        """Renew the lease every third of its lifetime; cancel the run if it is lost."""
        ttl = self._settings.lease_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                held = await self._store.write(
                    leases.renew, plugin_id, self.owner, self._clock(), ttl
                )
            except Exception:
                logger.warning(
                    "could not renew lease",
                    exc_info=True,
                    extra={"action": "lease_renew_error", "plugin_id": plugin_id},
                )
                continue
            if not held:
                logger.warning(
                    "lease lost; abandoning the run",
                    extra={"action": "lease_lost", "plugin_id": plugin_id},
                )
                task = self._running.get(plugin_id)
                if task is not None:
                    task.cancel()
                return

    def _log_if_late(self, plugin_id: str, trigger: str, now: datetime) -> None:
        due_at = self._next_runs.get(plugin_id)
        if trigger != "schedule" or due_at is None:
            return
        late = (now - due_at).total_seconds()
        if late > _LATE_AFTER:
            logger.warning(
                "run starts late",
                extra={
                    "action": "run_late",
                    "plugin_id": plugin_id,
                    "due_at": due_at.isoformat(),
                    "late_seconds": late,
                },
            )
