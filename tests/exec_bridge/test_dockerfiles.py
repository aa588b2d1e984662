"""The bridge's Dockerfile and the example script image, checked without a container engine."""

from __future__ import annotations

import re

from tests.support.processes import ROOT

BRIDGE = (ROOT / "exec_bridge" / "Dockerfile").read_text()
EXAMPLE_FOLDER = ROOT / "examples" / "exec-script"
EXAMPLE = (EXAMPLE_FOLDER / "Dockerfile").read_text()


def copied_sources(dockerfile: str) -> list[str]:
    return [
        s
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for s in line.split()[1:-1]
    ]


def test_the_bridge_image_holds_only_the_bridge_and_runs_unprivileged() -> None:
    assert BRIDGE.startswith("#") and "\nFROM python:3.11-slim\n" in BRIDGE
    assert copied_sources(BRIDGE) == ["pyproject.toml", "uv.lock", "exec_bridge"]
    assert all((ROOT / source).exists() for source in copied_sources(BRIDGE))
    assert "uv export --frozen --no-dev" in BRIDGE
    assert re.search(r"\nUSER marquee\n", BRIDGE)
    assert 'CMD ["python", "-m", "exec_bridge.healthcheck"]' in BRIDGE
    assert BRIDGE.rstrip().endswith('CMD ["python", "-m", "exec_bridge"]')


def test_the_example_image_adds_a_script_to_the_bridge() -> None:
    assert "\nFROM marquee-exec-bridge\n" in EXAMPLE
    assert copied_sources(EXAMPLE) == ["my_source.py"]
    assert (EXAMPLE_FOLDER / "my_source.py").is_file()
    assert '\nENV EXEC_COMMAND="python /plugin/my_source.py"\n' in EXAMPLE
