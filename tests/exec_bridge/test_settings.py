"""Settings from the environment, and start-up failures that name the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exec_bridge.config import Settings
from tests.support.processes import ROOT, service_env

VARIABLES = (
    "EXEC_COMMAND",
    "EXEC_TIMEOUT_SECONDS",
    "EXEC_MAX_OUTPUT_BYTES",
    "CACHE_SECONDS",
    "HOST",
    "PORT",
    "PLUGIN_TOKEN",
    "MAX_PAGE_SIZE",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEC_COMMAND", "python3 /plugin/source.py")
    settings = Settings()
    assert settings.argv == ["python3", "/plugin/source.py"]
    assert (settings.exec_timeout_seconds, settings.exec_max_output_bytes) == (60, 20 * 1024**2)
    assert (settings.cache_seconds, settings.max_page_size) == (300, 500)
    assert (settings.host, settings.port, settings.plugin_token) == ("127.0.0.1", 8083, None)


def test_the_command_is_split_like_a_shell_would_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXEC_COMMAND", """node "/srv/my plugin/index.js" --since='7 days' $HOME""")
    monkeypatch.setenv("PLUGIN_TOKEN", "s3cret")
    settings = Settings()
    assert settings.argv == ["node", "/srv/my plugin/index.js", "--since=7 days", "$HOME"]
    assert settings.plugin_token is not None and "s3cret" not in repr(settings)


def test_an_empty_token_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEC_COMMAND", "true")
    monkeypatch.setenv("PLUGIN_TOKEN", "")
    assert Settings().plugin_token is None


def start(**variables: str) -> subprocess.CompletedProcess[str]:
    """Start the bridge as operators do; each case here fails before it would listen."""
    environment = {k: v for k, v in service_env(**variables).items() if k != "EXEC_COMMAND"}
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "exec_bridge"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, ["EXEC_COMMAND"]),
        ({"EXEC_COMMAND": "python3 'unclosed"}, ["EXEC_COMMAND"]),
        ({"EXEC_COMMAND": "   "}, ["EXEC_COMMAND"]),
        ({"EXEC_COMMAND": "no-such-program-anywhere --now"}, ["EXEC_COMMAND"]),
        (
            {"EXEC_COMMAND": "true", "EXEC_TIMEOUT_SECONDS": "soon", "CACHE_SECONDS": "-1"},
            ["EXEC_TIMEOUT_SECONDS", "CACHE_SECONDS"],
        ),
        (
            {"EXEC_COMMAND": "true", "MAX_PAGE_SIZE": "0", "PORT": "eighty"},
            ["MAX_PAGE_SIZE", "PORT"],
        ),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(
    variables: dict[str, str], named: list[str]
) -> None:
    result = start(**variables)
    assert result.returncode == 2, result.stderr
    for name in named:
        assert name in result.stderr
    assert "Traceback" not in result.stderr
