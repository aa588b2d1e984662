"""Which plugins are registered: parsed from `PLUGIN_URLS`, refined by `PLUGIN_OVERRIDES`.

`PLUGIN_URLS` holds entries separated by commas and/or whitespace; each is `URL` or `name=URL`.
The name is the plugin's id inside Marquee (in the API, the store and metrics); without one it
is derived from the URL's host and port. Naming plugins lets one plugin image run twice with
different sources, because the id a plugin reports in its manifest is informational.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from base_service.errors import ConfigError

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class PluginEntry:
    """One registered plugin: its id in Marquee and its base URL (no trailing slash)."""

    plugin_id: str
    url: str


def parse_plugin_urls(text: str) -> tuple[PluginEntry, ...]:
    """Parse a `PLUGIN_URLS` value; raise ConfigError naming the first bad or duplicate entry."""
    entries: list[PluginEntry] = []
    for raw in _SEPARATORS.split(text.strip()):
        if raw:
            entries.append(_parse_entry(raw))
    _reject_duplicates(entries)
    return tuple(entries)


def _parse_entry(raw: str) -> PluginEntry:
    name, sep, url = raw.partition("=")
    if not sep:
        name, url = "", raw
    elif "://" in name:  # an '=' inside a URL's query, not a name
        name, url = "", raw
    url = url.rstrip("/")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"PLUGIN_URLS entry {raw!r}: bad port ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"PLUGIN_URLS entry {raw!r} is not an http(s) URL; expected URL or name=URL, "
            "e.g. ics=http://ics-plugin:8081"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"PLUGIN_URLS entry {raw!r}: a plugin URL takes no query, fragment or credentials "
            "(put a token in PLUGIN_OVERRIDES)"
        )
    if sep and not name:
        raise ConfigError(f"PLUGIN_URLS entry {raw!r} has an empty name before '='")
    plugin_id = name or _derive_name(parts.hostname, port)
    if not _NAME.match(plugin_id):
        raise ConfigError(
            f"PLUGIN_URLS entry {raw!r}: name {plugin_id!r} must be 1-64 characters of "
            "a-z, 0-9, '-' or '_', starting and ending with a letter or digit"
        )
    return PluginEntry(plugin_id=plugin_id, url=url)


def _derive_name(host: str, port: int | None) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return f"{base}-{port}" if port else base


def _reject_duplicates(entries: list[PluginEntry]) -> None:
    ids: set[str] = set()
    urls: set[str] = set()
    for entry in entries:
        if entry.plugin_id in ids:
            raise ConfigError(f"PLUGIN_URLS registers the name {entry.plugin_id!r} twice")
        if entry.url in urls:
            raise ConfigError(f"PLUGIN_URLS registers the URL {entry.url!r} twice")
        ids.add(entry.plugin_id)
        urls.add(entry.url)
