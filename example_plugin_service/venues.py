"""The venues file: which venues the plugin reports, and where each one's iCalendar feed is."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
)

from example_plugin_service.generated.plugin_api import Venue

logger = logging.getLogger(__name__)

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=200)
]


class VenuesFileError(ValueError):
    """The venues file cannot be read or does not describe a valid list of venues."""


class VenueConfig(BaseModel):
    """One venue as the venues file describes it, with its feed location resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    url: AnyHttpUrl | None = None
    feed: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    """An http(s) URL, or a file path (relative ones are resolved against the venues file)."""

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not a known IANA time zone") from error
        return value

    @field_validator("feed")
    @classmethod
    def _feed_location(cls, value: str) -> str:
        scheme, separator, _ = value.partition("://")
        if separator and scheme.lower() not in ("http", "https"):
            raise ValueError(f"{value!r} is neither an http(s) URL nor a file path")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The venue's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def feed_is_url(self) -> bool:
        """Whether the feed is fetched over HTTP rather than read from a file."""
        return self.feed.lower().startswith(("http://", "https://"))

    def to_contract(self) -> Venue:
        """The venue as the manifest reports it."""
        return Venue.model_validate(
            {
                "id": self.id,
                "name": self.name,
                "timezone": self.timezone,
                "address": self.address or None,
                "url": str(self.url) if self.url else None,
            }
        )


def load_venues(path: Path) -> list[VenueConfig]:
    """Read and validate the venues file, resolving relative feed paths against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise VenuesFileError(f"venues file {path}: cannot be read: {error}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise VenuesFileError(f"venues file {path}: not valid YAML: {error}") from error
    return parse_venues(document, base_dir=path.parent, source=str(path))


def parse_venues(document: Any, *, base_dir: Path, source: str) -> list[VenueConfig]:
    """Validate the parsed YAML document: a non-empty list of venues with unique ids."""
    if not isinstance(document, list) or not document:
        raise VenuesFileError(f"venues file {source}: expected a non-empty list of venues")
    venues: list[VenueConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(document, start=1):
        venue = _parse_venue(entry, index=index, source=source)
        if venue.id in seen:
            raise VenuesFileError(
                f"venues file {source}: venue {venue.id!r} (entry {index}): id: duplicate venue id"
            )
        seen.add(venue.id)
        if not venue.feed_is_url:
            feed_path = Path(venue.feed).expanduser()
            if not feed_path.is_absolute():
                feed_path = base_dir / feed_path
            venue = venue.model_copy(update={"feed": str(feed_path.resolve())})
        venues.append(venue)
    logger.info("Loaded %d venues from %s", len(venues), source)
    return venues


def _parse_venue(entry: Any, *, index: int, source: str) -> VenueConfig:
    if not isinstance(entry, dict):
        raise VenuesFileError(f"venues file {source}: entry {index}: expected a mapping of fields")
    raw_id = entry.get("id")
    label = f"venue {raw_id!r} (entry {index})" if isinstance(raw_id, str) else f"entry {index}"
    try:
        return VenueConfig.model_validate(entry)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'venue'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise VenuesFileError(f"venues file {source}: {label}: {problems}") from error
