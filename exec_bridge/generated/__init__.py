"""Code generated from openapi/plugin-api.yaml; see scripts/codegen.py."""
