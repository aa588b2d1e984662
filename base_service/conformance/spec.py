"""Where the plugin contract document is: found from the package's location, never copied."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

# base_service/conformance/spec.py -> the checkout's root -> openapi/plugin-api.yaml
CHECKOUT_SPEC = Path(__file__).resolve().parents[2] / "openapi" / "plugin-api.yaml"
SPEC_ENV = "MARQUEE_PLUGIN_SPEC"


class SpecNotFound(Exception):
    """The contract document is not where the kit looked; the message says what to do."""


def find_spec(explicit: Path | None = None) -> Path:
    """The contract file: `explicit`, else $MARQUEE_PLUGIN_SPEC, else the checkout's copy."""
    if explicit is not None:
        path, origin = explicit, "--spec"
    elif os.environ.get(SPEC_ENV):
        path, origin = Path(os.environ[SPEC_ENV]), SPEC_ENV
    else:
        path, origin = CHECKOUT_SPEC, "this package's checkout"
    if not path.is_file():
        raise SpecNotFound(
            f"the plugin contract was not found at {path} (from {origin}); pass "
            f"--spec PATH to Marquee's openapi/plugin-api.yaml, or set {SPEC_ENV}"
        )
    return path


def spec_version(path: Path) -> str | None:
    """The contract revision the document declares (`info.version`), or None if unreadable."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    info = document.get("info") if isinstance(document, dict) else None
    version = info.get("version") if isinstance(info, dict) else None
    return str(version) if version is not None else None
