"""What the base accepts from plugins, checked with the generated models."""

from __future__ import annotations

import json

import pytest

from base_service.errors import ContractViolation, IncompatibleContract
from base_service.validation import parse_manifest, parse_page
from tests.support.fake_plugin import FakePlugin, make_event

VENUES = frozenset({"hall"})


def _page(events: list[object], cursor: str | None = None) -> bytes:
    return json.dumps({"events": events, "next_cursor": cursor}).encode()


def test_manifest_of_a_newer_minor_with_unknown_fields_is_accepted() -> None:
    document = FakePlugin().manifest() | {"contract_version": "1.7", "shiny": True}
    manifest = parse_manifest(json.dumps(document).encode())
    assert manifest.contract_version == "1.7"


def test_other_major_versions_are_incompatible() -> None:
    document = FakePlugin().manifest() | {"contract_version": "2.0"}
    with pytest.raises(IncompatibleContract, match=r"speaks contract 2\.0"):
        parse_manifest(json.dumps(document).encode())


def test_bad_manifest_names_the_field() -> None:
    document = FakePlugin().manifest() | {"plugin_id": "Not A Slug"}
    with pytest.raises(ContractViolation, match="plugin_id"):
        parse_manifest(json.dumps(document).encode())


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"events": [', b"[]", b'{"events": {}}', b'{"events": []}'],
)
def test_a_bad_envelope_is_a_contract_violation(body: bytes) -> None:
    with pytest.raises(ContractViolation):
        parse_page(body, VENUES)


def test_bad_events_are_rejected_with_reasons_and_good_ones_kept() -> None:
    naive = make_event(1) | {"start": "2030-01-02T20:00:00"}
    backwards = make_event(2) | {"end": "2029-01-01T00:00:00Z"}
    unknown_status = make_event(3) | {"status": "maybe"}
    page = parse_page(
        _page([make_event(0), naive, backwards, unknown_status, "junk", make_event(4)], "c2"),
        VENUES,
    )
    assert [event.id for event in page.events] == ["ev-0", "ev-4"]
    # In page order, whichever check caught them (schema: ev-1, ev-3, junk; semantic: ev-2).
    assert [r.event_id for r in page.rejected] == ["ev-1", "ev-2", "ev-3", None]
    reasons = {r.event_id: r.reason for r in page.rejected}
    assert "timezone" in reasons["ev-1"]
    assert reasons["ev-2"] == "end is before start"
    assert "status" in reasons["ev-3"]
    assert None in reasons
    assert page.next_cursor == "c2"


def test_unknown_event_fields_are_ignored() -> None:
    page = parse_page(_page([make_event(0) | {"future_field": [1, 2]}]), VENUES)
    assert [event.id for event in page.events] == ["ev-0"]


def test_a_range_without_1x_is_incompatible_and_says_why() -> None:
    document = FakePlugin().manifest() | {
        "contract_version": "2.1",
        "contract_versions": {"min": "2.0", "max": "3.1"},
    }
    with pytest.raises(IncompatibleContract, match=r"speaks contract 2\.0 to 3\.1; .* 1\.x"):
        parse_manifest(json.dumps(document).encode())


def test_change_sets_carry_removals_and_tokens() -> None:
    body = json.dumps(
        {
            "events": [make_event(0)],
            "next_cursor": None,
            "mode": "changes",
            "removed_ids": ["ev-7"],
            "sync_token": "t2",
        }
    ).encode()
    page = parse_page(body, VENUES)
    assert (page.mode, page.removed_ids, page.sync_token) == ("changes", ["ev-7"], "t2")


def test_unknown_time_zones_are_rejected_even_odd_ones() -> None:
    page = parse_page(_page([make_event(0, timezone="Europe"), make_event(1)]), VENUES)
    assert [event.id for event in page.events] == ["ev-1"]
    assert "not an IANA time zone" in page.rejected[0].reason
    document = FakePlugin().manifest()
    document["venues"] = [{"id": "hall", "name": "Hall", "timezone": "../../etc"}]
    with pytest.raises(ContractViolation, match="not an IANA time zone"):
        parse_manifest(json.dumps(document).encode())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_nul_is_found_in_a_page_encoded_as_utf16_or_utf32(encoding: str) -> None:
    # json.loads accepts these encodings; there the escape is not the bytes b"\\u0000".
    body = json.dumps(
        {"events": [make_event(0), make_event(1, title="Jazz\u0000Night")], "next_cursor": None}
    ).encode(encoding)
    page = parse_page(body, VENUES)
    assert [event.id for event in page.events] == [make_event(0)["id"]]
    assert [r.reason for r in page.rejected] == ["a text field contains a NUL character"]
