"""Fixtures of the status page tests: a second fake plugin, one that always fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_plugin import FakePlugin, problem
from tests.support.servers import serve_app


@pytest.fixture
def broken_plugin() -> Iterator[tuple[FakePlugin, str]]:
    """A fake plugin whose events endpoint answers 500: (its state, its URL)."""
    plugin = FakePlugin()
    plugin.faults["/v1/events"] = lambda _: problem(500, "the upstream calendar is down")
    with serve_app(plugin.app()) as url:
        yield plugin, url
