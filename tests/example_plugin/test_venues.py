"""venues.py: the venues file is validated, with errors naming the venue and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from example_plugin_service.venues import VenuesFileError, load_venues

GOOD = """
- id: harbour-hall
  name: Harbour Hall
  timezone: Europe/Lisbon
  address: 1 Quay Street, Lisbon
  url: https://harbour-hall.example
  feed: feeds/harbour-hall.ics
- id: the-lantern
  name: The Lantern
  timezone: America/New_York
  feed: https://the-lantern.example/calendar.ics
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "venues.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(VenuesFileError) as caught:
        load_venues(write(tmp_path, text))
    return str(caught.value)


def test_good_file_resolves_relative_feeds_against_its_folder(tmp_path: Path) -> None:
    hall, lantern = load_venues(write(tmp_path, GOOD))

    assert hall.feed == str(tmp_path / "feeds" / "harbour-hall.ics")
    assert not hall.feed_is_url
    assert lantern.feed == "https://the-lantern.example/calendar.ics"
    assert lantern.feed_is_url
    contract = hall.to_contract()
    assert (contract.id, contract.timezone, contract.address) == (
        "harbour-hall",
        "Europe/Lisbon",
        "1 Quay Street, Lisbon",
    )
    assert lantern.to_contract().address is None


def test_bad_yaml(tmp_path: Path) -> None:
    message = error_for(tmp_path, "- id: [unclosed\n  name: x")

    assert "not valid YAML" in message and "venues.yaml" in message


def test_not_a_list(tmp_path: Path) -> None:
    assert "non-empty list of venues" in error_for(tmp_path, "venues: {}")
    assert "non-empty list of venues" in error_for(tmp_path, "[]")


def test_bad_timezone_names_venue_and_field(tmp_path: Path) -> None:
    message = error_for(tmp_path, GOOD.replace("America/New_York", "America/Gotham"))

    assert "venue 'the-lantern' (entry 2)" in message
    assert "timezone" in message and "'America/Gotham' is not a known IANA time zone" in message


def test_duplicate_ids(tmp_path: Path) -> None:
    message = error_for(tmp_path, GOOD.replace("id: the-lantern", "id: harbour-hall"))

    assert "venue 'harbour-hall' (entry 2)" in message and "duplicate venue id" in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("id: the-lantern", "id: The Lantern"), "id"),
        (("  name: The Lantern\n", ""), "name"),
        (("https://the-lantern.example/calendar.ics", "ftp://the-lantern.example/x.ics"), "feed"),
        (("  feed: https://the-lantern.example/calendar.ics\n", ""), "feed"),
        (("  name: The Lantern\n", "  name: The Lantern\n  colour: red\n"), "colour"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    message = error_for(tmp_path, GOOD.replace(*change))

    assert "(entry 2)" in message and f"{field}:" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VenuesFileError, match="cannot be read"):
        load_venues(tmp_path / "absent.yaml")
