"""IANA time zones by name, safely: a name a plugin sent may be anything."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo | None:
    """The zone with this IANA name, or None for a missing or unknown one.

    zoneinfo raises more than ZoneInfoNotFoundError for odd names: ValueError for paths,
    OSError (IsADirectoryError) for a folder of the database such as "Europe".
    """
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
