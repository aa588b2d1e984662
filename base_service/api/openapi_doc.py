"""The base service's own OpenAPI document, as published in openapi/base-api.yaml."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from base_service.api.problems import PROBLEM_JSON
from base_service.api.schemas import Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def install_openapi(app: FastAPI) -> None:
    """Make the app's document say what it does: every 4xx/5xx is problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for path in document["paths"].values():
            for operation in path.values():
                _problem_responses(operation["responses"])
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_responses(responses: dict[str, Any]) -> None:
    responses.pop("422", None)
    for code, response in responses.items():
        if code.startswith(("4", "5")) and code != "503":
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    responses["4XX"] = {
        "description": "The request was wrong: bad query input, unknown resource, no auth.",
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
    }


def render_openapi_yaml() -> str:
    """The app's OpenAPI document as YAML, built from default settings (no I/O)."""
    from base_service.api.app import create_app
    from base_service.config import Settings

    document = create_app(Settings(_env_file=None)).openapi()
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
