"""compose.yaml and the Dockerfiles, checked as far as possible without a container engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from base_service.registry import parse_plugin_urls

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_depends_on_targets_exist_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            assert condition["condition"] == "service_healthy"
            assert "healthcheck" in SERVICES[target], f"{target} has no healthcheck"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "build" in s))
def test_build_contexts_and_dockerfiles(name: str) -> None:
    build = SERVICES[name]["build"]
    context = ROOT / build["context"]
    dockerfile = context / build["dockerfile"]
    assert context.is_dir() and dockerfile.is_file()
    text = dockerfile.read_text()
    assert "FROM python:3.11-slim" in text
    assert "\nUSER " in text, "runs as root"
    assert "HEALTHCHECK" in text
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (context / source).exists(), f"{dockerfile}: COPY {source} is missing"


@pytest.mark.parametrize("name", ["base", "base-replica"])
def test_plugin_urls_name_compose_services(name: str) -> None:
    entries = parse_plugin_urls(SERVICES[name]["environment"]["PLUGIN_URLS"])
    assert entries
    for entry in entries:
        assert urlsplit(entry.url).hostname in SERVICES


def test_the_postgres_profile_points_replicas_at_its_database() -> None:
    replica = SERVICES["base-replica"]
    assert replica["profiles"] == SERVICES["postgres"]["profiles"] == ["postgres"]
    url = replica["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url
    assert replica["deploy"]["replicas"] > 1
    assert "profiles" not in SERVICES["base"]  # plain `docker compose up` keeps SQLite
