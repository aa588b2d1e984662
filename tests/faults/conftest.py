"""Fixtures for the fault suite: a raw-socket plugin that starts out healthy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_plugin import make_event
from tests.support.raw_plugin import RawPlugin


@pytest.fixture
def raw_plugin() -> Iterator[RawPlugin]:
    """A raw-socket plugin serving three events; set `behaviour` to make it misbehave."""
    plugin = RawPlugin("healthy", events=[make_event(n) for n in range(3)])
    with plugin:
        yield plugin
