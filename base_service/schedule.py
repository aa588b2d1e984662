"""Pure scheduling arithmetic: when is a plugin due. Time is always an argument, in UTC.

Each plugin's runs sit on a fixed grid: instants `offset + k * interval` since the Unix epoch,
with an offset derived from the plugin id. The grid survives restarts (no re-run on boot), and
plugins with the same interval are spread across it instead of stampeding together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stable_fraction(plugin_id: str) -> float:
    """A number in [0, 1) that depends only on the plugin id."""
    digest = hashlib.sha256(plugin_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def effective_interval(override: int | None, suggested: int | None, default: int) -> int:
    """The run interval in seconds: operator override, else the manifest's, else the default."""
    return override or suggested or default


def first_run_at(plugin_id: str, now: datetime, spread_seconds: float) -> datetime:
    """When a plugin never run before first runs: soon, spread a little by its id."""
    return now + timedelta(seconds=spread_seconds * stable_fraction(plugin_id))


def next_slot(plugin_id: str, interval: int, now: datetime) -> datetime:
    """The first instant after `now` on the plugin's grid."""
    offset = stable_fraction(plugin_id) * interval
    elapsed = (now - _EPOCH).total_seconds() - offset
    slots = int(elapsed // interval) + 1
    return _EPOCH + timedelta(seconds=offset + slots * interval)


def retry_at(failures: int, interval: int, backoff_seconds: int, now: datetime) -> datetime:
    """When to try again after `failures` consecutive failures: doubling, capped at the interval."""
    delay = min(interval, backoff_seconds * 2 ** min(failures - 1, 30))
    return now + timedelta(seconds=delay)


def due(
    next_runs: Mapping[str, datetime | None], running: Collection[str], now: datetime
) -> list[str]:
    """Plugins whose next run is at or before `now` and that are not running, earliest first."""
    ready = [
        (when, plugin_id)
        for plugin_id, when in next_runs.items()
        if when is not None and when <= now and plugin_id not in running
    ]
    return [plugin_id for _, plugin_id in sorted(ready)]


def seconds_until_next(
    next_runs: Mapping[str, datetime | None], running: Collection[str], now: datetime
) -> float | None:
    """Seconds until the earliest pending run, or None if nothing is scheduled."""
    pending = [
        when
        for plugin_id, when in next_runs.items()
        if when is not None and plugin_id not in running
    ]
    if not pending:
        return None
    return max(0.0, (min(pending) - now).total_seconds())
