"""Settings from the environment, and start-up failures that name their cause."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from example_plugin_service.app import create_app
from example_plugin_service.config import SAMPLE_VENUES_FILE, Settings
from tests.support.servers import free_port, serve_app


def test_settings_read_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PAGE_SIZE", "7")
    monkeypatch.setenv("PLUGIN_TOKEN", "s3cret")
    monkeypatch.setenv("WINDOW_FUTURE_DAYS", "500")

    settings = Settings()

    assert settings.max_page_size == 7
    assert settings.plugin_token is not None
    assert settings.plugin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.window_future_days == 500


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "VENUES_FILE", "PLUGIN_ID", "PLUGIN_TOKEN", "MAX_PAGE_SIZE"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings()

    assert (settings.host, settings.port, settings.plugin_id) == ("127.0.0.1", 8081, "ics-feeds")
    assert settings.venues_file == SAMPLE_VENUES_FILE and SAMPLE_VENUES_FILE.is_file()
    assert settings.plugin_token is None
    assert (settings.window_past_days, settings.window_future_days) == (1, 400)
    assert (settings.cache_seconds, settings.feed_timeout_seconds) == (300, 10)
    assert settings.feed_max_bytes == 10 * 1024 * 1024
    assert settings.refresh_interval_seconds == 21600 and settings.max_page_size == 500


def run_module(**env: str) -> subprocess.CompletedProcess[str]:
    """Start the service as operators do; each case here fails before it would listen."""
    return subprocess.run(
        [sys.executable, "-m", "example_plugin_service"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_malformed_setting_stops_start_up_naming_the_variable() -> None:
    result = run_module(PORT="eighty")

    assert result.returncode == 2
    assert "Invalid setting PORT" in result.stderr


def test_bad_venues_file_stops_start_up(tmp_path: Path) -> None:
    venues = tmp_path / "venues.yaml"
    venues.write_text("- id: hall\n  name: Hall\n  timezone: Mars/Olympus\n  feed: x.ics\n")

    result = run_module(VENUES_FILE=str(venues))

    assert result.returncode == 2
    assert "venue 'hall' (entry 1)" in result.stderr and "Mars/Olympus" in result.stderr


def run_probe(**env: str) -> int:
    result = subprocess.run(
        [sys.executable, "-m", "example_plugin_service.healthcheck"],
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode


def test_container_probe_reports_whether_the_service_answers() -> None:
    settings = Settings(venues_file=SAMPLE_VENUES_FILE, plugin_token="probe-token")
    with serve_app(create_app(settings)) as url:
        port = url.rsplit(":", 1)[1]
        assert run_probe(HOST="0.0.0.0", PORT=port, PLUGIN_TOKEN="probe-token") == 0
        assert run_probe(HOST="127.0.0.1", PORT=port, PLUGIN_TOKEN="wrong") == 1
    assert run_probe(HOST="127.0.0.1", PORT=str(free_port())) == 1
