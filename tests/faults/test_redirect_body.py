"""A redirect's body is a body like any other: read no further than MAX_RESPONSE_BYTES."""

from __future__ import annotations

import pytest

from tests.faults.helpers import assert_fault, assert_responsive, good_run, run_now, settings
from tests.support.base import running_base, wait_until
from tests.support.raw_plugin import RawPlugin

CAP = 2048


def test_redirect_body_over_the_size_cap_is_not_read(
    raw_plugin: RawPlugin, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A same-host redirect may be followed (its body need not be read at all), or the run may
    # fail as too large; what must not happen is reading the whole body into memory.
    with running_base(settings(sqlite_url, raw_plugin.url, max_response_bytes=CAP)) as client:
        before = good_run(client)
        raw_plugin.behaviour = "redirect_oversized"
        view = run_now(client)
        assert_responsive(client)
        if view["state"] != "ok":
            assert_fault(client, caplog, view, kind="response_too_large", before=before)
        sent = wait_until(
            raw_plugin.hangups_seen,
            timeout=3,
            what=f"the base to stop reading a {raw_plugin.oversize_bytes}-byte redirect body "
            f"(MAX_RESPONSE_BYTES={CAP}); it read all of it",
        )
    assert sent[0] < raw_plugin.oversize_bytes // 4
