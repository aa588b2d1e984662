# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

.DEFAULT_GOAL := help
.PHONY: help install run test check codegen codegen-check lint format typecheck pytest lock stub compose-smoke

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: ## Create .venv with the locked dependencies (installs uv with pip if needed)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet

run: install ## Run the base service (:8080) and the example plugin (:8081) with SQLite
	@UV="$(UV)" bash scripts/run-local

test: install check ## Run every check and the whole test suite

check: codegen-check lint typecheck pytest

codegen: install ## Regenerate the contract models and openapi/base-api.yaml
	@$(RUN) python scripts/codegen.py

codegen-check:
	@$(RUN) python scripts/codegen.py --check
	@$(RUN) openapi-spec-validator openapi/plugin-api.yaml openapi/base-api.yaml

lint:
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

format: install ## Format and fix lint where it can be done automatically
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

typecheck:
	@$(RUN) mypy base_service example_plugin_service exec_bridge bench

pytest:
	@$(RUN) pytest

lock: ## Re-resolve uv.lock after changing pyproject.toml
	@$(UV) lock

STUB_DIR ?= my_plugin
# The templates make `create_app(your_object)` (your code stays outside generated/), problem+json
# errors, 400 for bad parameters and the optional token; stub_prepare.py clears what the last
# run wrote and refuses to touch generated/ if it holds anything else.
stub: ## Generate a FastAPI plugin server stub from the contract into STUB_DIR/generated
	@$(PYTHON) scripts/stub_prepare.py $(STUB_DIR)/generated
	@PYTHONWARNINGS=ignore::FutureWarning $(UV) tool run --from fastapi-code-generator==0.8.1 \
	  fastapi-codegen --input openapi/plugin-api.yaml --output $(STUB_DIR)/generated \
	  --template-dir $(CURDIR)/scripts/stub_templates --disable-timestamp
	@echo "stub written to $(STUB_DIR)/generated (regenerating rewrites only that folder)"

compose-smoke: ## Build the images, run compose.yaml (plus a second plugin), check it over :8080
	@bash scripts/compose-smoke
