"""How fresh each plugin's data is: when it last succeeded, and whether it is stale.

Data is stale when its plugin has been failing for longer than STALE_AFTER_INTERVALS of its
intervals since its last success. A plugin that never succeeded has no data to be stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import RowMapping

from base_service.config import Settings
from base_service.schedule import effective_interval
from base_service.store import reads
from base_service.store.database import Store


@dataclass(frozen=True)
class Freshness:
    """A plugin's last success and whether its data counts as stale."""

    last_success_at: datetime | None
    stale: bool


async def load_freshness(
    store: Store, settings: Settings, now: datetime, plugin_id: str | None = None
) -> dict[str, Freshness]:
    """The freshness of every plugin with stored state (or of the one named), read from the
    store."""
    named = None if plugin_id is None else {plugin_id}
    return freshness(await store.read(reads.plugin_facts, named), settings, now)


def freshness(
    facts: Mapping[str, RowMapping], settings: Settings, now: datetime
) -> dict[str, Freshness]:
    """The freshness of every plugin in `facts` (`store.reads.plugin_facts`)."""
    overrides = settings.plugin_overrides  # read directly: every listing asks
    result = {}
    for plugin_id, row in facts.items():
        success: datetime | None = row["last_success_at"]
        override = overrides.get(plugin_id)
        interval = effective_interval(
            override.interval_seconds if override else None,
            row["refresh_interval_seconds"],
            settings.default_interval_seconds,
        )
        limit = timedelta(seconds=interval * settings.stale_after_intervals)
        stale = success is not None and row["consecutive_failures"] > 0 and now - success > limit
        result[plugin_id] = Freshness(success, stale)
    return result
