"""Check, through the base service's published port, that it ran its plugins and serves their data.

usage: python check_api.py BASE_URL PLUGIN_ID=MANIFEST_ID... [--timeout SECONDS]

Waits until every named plugin is `ok` in GET /v1/plugins with a successful last run that
fetched events and a manifest reporting MANIFEST_ID, then checks that GET /v1/events and
GET /v1/venues serve each plugin's events and venues. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

POLL_SECONDS = 1.0


class CheckError(RuntimeError):
    """The base service does not (yet) show what it should."""


def get(base_url: str, path: str, **query: str) -> Any:
    url = base_url.rstrip("/") + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise CheckError(f"GET {path}: {error}") from error


def plugins_ok(base_url: str, expected: dict[str, str]) -> dict[str, Any]:
    """Each expected plugin's entry once it is ok; raises CheckError saying what is missing."""
    listing = {p["plugin_id"]: p for p in get(base_url, "/v1/plugins")["items"]}
    problems = []
    for plugin_id, manifest_id in expected.items():
        plugin = listing.get(plugin_id)
        if plugin is None:
            problems.append(f"{plugin_id}: not registered (plugins: {sorted(listing)})")
            continue
        last_run = plugin.get("last_run") or {}
        manifest = plugin.get("manifest") or {}
        if plugin["state"] != "ok" or last_run.get("outcome") != "success":
            problems.append(
                f"{plugin_id}: state {plugin['state']}, last run {last_run.get('outcome')}"
                f" {last_run.get('error_kind') or ''} {plugin.get('last_error') or ''}".rstrip()
            )
        elif not last_run.get("counts", {}).get("fetched"):
            problems.append(f"{plugin_id}: last run fetched no events")
        elif manifest.get("plugin_id") != manifest_id:
            problems.append(f"{plugin_id}: manifest says {manifest.get('plugin_id')!r}")
    if problems:
        raise CheckError("; ".join(problems))
    return listing


def check(base_url: str, expected: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            listing = plugins_ok(base_url, expected)
            break
        except CheckError as error:
            if time.monotonic() > deadline:
                raise CheckError(f"plugins not ok after {timeout:.0f} s: {error}") from None
            time.sleep(POLL_SECONDS)
    for plugin_id in expected:
        run = listing[plugin_id]["last_run"]
        counts = ", ".join(f"{k} {v}" for k, v in run["counts"].items())
        print(f"  plugin {plugin_id}: ok, last run {run['outcome']} ({counts})")

    events = get(base_url, "/v1/events", limit="500")["items"]
    if not events:
        raise CheckError("GET /v1/events is empty")
    venues = get(base_url, "/v1/venues")["items"]
    for plugin_id in expected:
        own = get(base_url, "/v1/events", plugin_id=plugin_id, limit="5")["items"]
        if not own or any(e["plugin_id"] != plugin_id for e in own):
            raise CheckError(f"GET /v1/events?plugin_id={plugin_id} serves none of its events")
        own_venues = [v for v in venues if v["plugin_id"] == plugin_id]
        if not own_venues:
            raise CheckError(f"GET /v1/venues lists no venue of {plugin_id}")
        first = own[0]
        names = ", ".join(v["id"] for v in own_venues)
        print(
            f"  events of {plugin_id}: e.g. {first['start']} {first['title']!r}"
            f" at {first['venue_id']}; venues: {names}"
        )
    print(f"  /v1/events: {len(events)} events on the first page")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("plugins", nargs="+", metavar="PLUGIN_ID=MANIFEST_ID")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    expected = dict(p.split("=", 1) for p in args.plugins)
    try:
        check(args.base_url, expected, args.timeout)
    except CheckError as error:
        print(f"check_api: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
