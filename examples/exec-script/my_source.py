"""An event source for the Marquee exec bridge, in plain Python (standard library only).

The bridge runs this script and reads one JSON object from its stdout:
    {"manifest": {...}, "events": [...]}
Replace `upcoming_events` with whatever reads your venue's programme: a web page, a CSV
export, a database. On trouble, say why on stderr (the bridge logs it at WARNING) and exit
non-zero: the bridge then keeps serving its last good result.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

VENUE_ID = "riverside-community-hall"
TIMEZONE = "Europe/London"

MANIFEST = {
    "plugin_id": "riverside-programme",
    "name": "Riverside Community Hall programme",
    "version": "1.0.0",
    "contract_version": "1.0",
    "venues": [
        {
            "id": VENUE_ID,
            "name": "Riverside Community Hall",
            "timezone": TIMEZONE,
            "address": "2 Mill Lane, Riverside",
            "url": "https://riverside-hall.example",
        }
    ],
    "refresh_interval_seconds": 3600,
}

# The hall's regular programme: (weekday, Monday = 0), title, local start, length, categories.
WEEKLY = [
    (1, "Folk Session", time(19, 30), timedelta(hours=2, minutes=30), ["music", "folk"]),
    (3, "Quiz Night", time(20, 0), timedelta(hours=2), ["quiz"]),
    (5, "Family Film Matinee", time(14, 0), timedelta(hours=2), ["film", "family"]),
]
WEEKS_AHEAD = 4


def upcoming_events(today: date) -> list[dict[str, object]]:
    """Every occurrence of the weekly programme from today for WEEKS_AHEAD weeks."""
    zone = ZoneInfo(TIMEZONE)
    events: list[dict[str, object]] = []
    for offset in range(WEEKS_AHEAD * 7):
        day = today + timedelta(days=offset)
        for weekday, title, starts, length, categories in WEEKLY:
            if day.weekday() != weekday:
                continue
            start = datetime.combine(day, starts, tzinfo=zone)
            slug = title.lower().replace(" ", "-")
            events.append(
                {
                    # Stable across runs: the series and the occurrence's date.
                    "id": f"{slug}/{day.isoformat()}",
                    "venue_id": VENUE_ID,
                    "title": title,
                    "start": start.isoformat(),
                    "end": (start + length).isoformat(),
                    "timezone": TIMEZONE,
                    "categories": categories,
                    "url": f"https://riverside-hall.example/whats-on/{slug}",
                }
            )
    return events


def main() -> int:
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    json.dump({"manifest": MANIFEST, "events": upcoming_events(today)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
