"""PLUGIN_URLS parsing and the settings built from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from base_service.config import Settings
from base_service.errors import ConfigError
from base_service.registry import PluginEntry, parse_plugin_urls


def test_names_urls_and_separators() -> None:
    entries = parse_plugin_urls(
        " ics=http://ics:8081/ ,\n http://tickets.example  https://a.b:9/x "
    )
    assert entries == (
        PluginEntry("ics", "http://ics:8081"),
        PluginEntry("tickets-example", "http://tickets.example"),
        PluginEntry("a-b-9", "https://a.b:9/x"),
    )


def test_empty_value_registers_nothing() -> None:
    assert parse_plugin_urls("  ,, ") == ()


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("ftp://x", "'ftp://x' is not an http(s) URL"),
        ("ics=", "'ics=' is not an http(s) URL"),
        ("=http://x", "empty name"),
        ("Bad Name=http://x", "'Bad' is not an http(s) URL"),
        ("BAD=http://x", "name 'BAD'"),
        ("http://x:99999", "bad port"),
        ("http://x/?a=1", "no query"),
        ("http://user:pw@x", "credentials"),
        ("a=http://x a=http://y", "name 'a' twice"),
        ("a=http://x b=http://x/", "URL 'http://x' twice"),
    ],
)
def test_bad_entries_are_named(value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        parse_plugin_urls(value)


def test_settings_reject_bad_plugin_urls_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(plugin_urls="nonsense")
    assert "plugin_urls" in str(caught.value)
    assert "'nonsense'" in str(caught.value)


def test_overrides_must_name_registered_plugins() -> None:
    with pytest.raises(
        ValidationError, match=r"plugin_overrides[^$]*names plugins not in PLUGIN_URLS: b"
    ):
        Settings(plugin_urls="a=http://x", plugin_overrides={"b": {"interval_seconds": 60}})


def test_overrides_apply_per_plugin() -> None:
    settings = Settings(
        plugin_urls="a=http://x b=http://y",
        plugin_overrides={"a": {"interval_seconds": 60, "timeout_seconds": 3, "token": "t"}},
    )
    a, b = settings.plugins()
    assert (a.interval_override, a.read_timeout) == (60, 3)
    assert a.token is not None and a.token.get_secret_value() == "t"
    assert (b.interval_override, b.read_timeout, b.token) == (None, 30.0, None)
    assert "'t'" not in repr(a)  # tokens never show in reprs or logs


def test_tokens_can_come_from_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "ics-token"
    secret.write_text("from-a-file\n")
    settings = Settings(
        plugin_urls="ics=http://x", plugin_overrides={"ics": {"token_file": str(secret)}}
    )
    (plugin,) = settings.plugins()
    assert plugin.token is not None and plugin.token.get_secret_value() == "from-a-file"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"token_file": "/nonexistent/token"}, "token_file /nonexistent/token"),
        ({"token": "t", "token_file": "x"}, "either token or token_file"),
    ],
)
def test_bad_token_files_are_named(override: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(named)):
        Settings(plugin_urls="ics=http://x", plugin_overrides={"ics": override})


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"database_url": "garbage"}, "is not a database URL"),
        ({"database_url": "sqlite:///x.db"}, "driver 'sqlite' is not supported"),
        ({"run_timeout_seconds": "inf"}, "finite"),
        ({"lease_seconds": "inf"}, "finite"),
    ],
)
def test_unusable_settings_are_refused(variables: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(**variables)


def test_log_settings_take_any_case() -> None:
    settings = Settings(log_level="debug", log_format="JSON")
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
