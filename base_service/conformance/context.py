"""What the checks share: the probe, the manifest and the walks, each fetched once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from base_service.conformance.probe import Exchange, Probe
from base_service.conformance.walk import Walk, walk
from base_service.generated.plugin_api import Manifest

# The page size the base service asks for by default (PAGE_SIZE), capped by max_page_size.
BASE_PAGE_SIZE = 500
# A second, smaller page size splits the listing into about this many pages.
SMALL_WALK_PAGES = 5


class Failed(Exception):
    """A check found the plugin off the contract: why, and the request that showed it."""

    def __init__(self, detail: str, request: Exchange | str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.request = request.request if isinstance(request, Exchange) else request


class Skipped(Exception):
    """A check could not run or does not apply; the message says why."""


@dataclass
class Context:
    """The plugin under test and what earlier checks learnt about it."""

    probe: Probe
    spec: Path | None = None
    spec_problem: str | None = None
    max_examples: int = 25
    timeout: float = 10.0
    fuzz: bool = True
    _manifest_exchange: Exchange | None = None
    _walks: dict[str, Walk] = field(default_factory=dict)

    @property
    def has_token(self) -> bool:
        """Whether a token was given to the kit."""
        return self.probe.token is not None

    def manifest_exchange(self) -> Exchange:
        """The answer to GET /v1/manifest (fetched once)."""
        if self._manifest_exchange is None:
            self._manifest_exchange = self.probe.get("/v1/manifest")
        return self._manifest_exchange

    def manifest(self) -> Manifest:
        """The manifest, or Skipped when it does not validate (the manifest check says why)."""
        exchange = self.manifest_exchange()
        if exchange.status != 200:
            raise Skipped("needs the manifest, which did not answer 200 (see manifest)")
        try:
            return Manifest.model_validate_json(exchange.body)
        except ValidationError:
            raise Skipped("needs a valid manifest (see manifest)") from None

    def venue_ids(self) -> frozenset[str]:
        """The manifest's venue ids."""
        return frozenset(venue.id for venue in self.manifest().venues)

    def page_size(self) -> int:
        """The `limit` the base service would ask for."""
        return min(BASE_PAGE_SIZE, self.manifest().max_page_size)

    def main_walk(self) -> Walk:
        """The walk the base service makes: every page at its page size (walked once)."""
        return self._walk("main", {"limit": self.page_size()})

    def full_walk(self) -> Walk:
        """The main walk, or Skipped when it did not reach its last page."""
        main = self.main_walk()
        if not main.complete:
            raise Skipped("needs a complete walk of the events (see events_valid, pagination)")
        return main

    def small_limit(self) -> int:
        """A page size that splits the listing into several pages."""
        count = len(self.full_walk().ids)
        return max(1, min(self.manifest().max_page_size, math.ceil(count / SMALL_WALK_PAGES)))

    def small_walk(self, label: str) -> Walk:
        """A walk at the small page size; `label` tells repeated walks apart."""
        return self._walk(f"small-{label}", {"limit": self.small_limit()})

    def _walk(self, key: str, params: dict[str, str | int]) -> Walk:
        if key not in self._walks:
            self._walks[key] = walk(self.probe, params)
        return self._walks[key]
