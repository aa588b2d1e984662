"""Regenerate every file derived from a spec or from the app, or check that none has drifted.

    python scripts/codegen.py          # rewrite the generated files
    python scripts/codegen.py --check  # exit 1, naming the files, if any is out of date

Derived files:
- pydantic models of the plugin contract (openapi/plugin-api.yaml), one copy per package that
  reads or writes it, so each package ships on its own;
- openapi/base-api.yaml, the base service's own client API, exported from the app.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_SPEC = ROOT / "openapi" / "plugin-api.yaml"
BASE_SPEC = ROOT / "openapi" / "base-api.yaml"
MODEL_TARGETS = [
    ROOT / "base_service" / "generated" / "plugin_api.py",
    ROOT / "example_plugin_service" / "generated" / "plugin_api.py",
    ROOT / "exec_bridge" / "generated" / "plugin_api.py",
]
HEADER = (
    "# GENERATED from openapi/plugin-api.yaml by datamodel-code-generator.\n"
    "# Do not edit by hand: change the spec and run `make codegen`."
)
INIT_TEXT = '"""Code generated from openapi/plugin-api.yaml; see scripts/codegen.py."""\n'
DATAMODEL_OPTIONS = [
    "--input-file-type=openapi",
    "--output-model-type=pydantic_v2.BaseModel",
    "--output-datetime-class=AwareDatetime",
    "--target-python-version=3.11",
    "--disable-timestamp",
    "--use-annotated",
    "--field-constraints",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-field-description",
    "--use-schema-description",
    "--use-double-quotes",
    "--strict-nullable",
    "--use-default",
    "--set-default-enum-member",
    "--enum-field-as-literal=none",
    "--collapse-root-models",
    "--collapse-constrained-root-models-as-annotated",
    "--formatters=builtin",
]


def render_models() -> str:
    """Return the contract models as datamodel-code-generator writes them."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "models.py"
        subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                "-m",
                "datamodel_code_generator",
                f"--input={PLUGIN_SPEC}",
                f"--output={out}",
                f"--custom-file-header={HEADER}",
                *DATAMODEL_OPTIONS,
            ],
            check=True,
        )
        return out.read_text()


def render_base_api() -> str:
    """Return the base service's OpenAPI document as YAML."""
    sys.path.insert(0, str(ROOT))
    from base_service.api.openapi_doc import render_openapi_yaml

    return render_openapi_yaml()


def expected_files() -> dict[Path, str]:
    """Map every derived file to the text it should have."""
    models = render_models()
    files: dict[Path, str] = {BASE_SPEC: render_base_api()}
    for target in MODEL_TARGETS:
        files[target] = models
        files[target.parent / "__init__.py"] = INIT_TEXT
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        names = ", ".join(map(str, stale))
        print(f"generated files are out of date: {names}; run `make codegen`", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
