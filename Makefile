# Ledgergate — `make run` starts the gateway, `make test` runs the whole suite.
# Needs only python3 (>= 3.11) on the PATH: uv is bootstrapped into .tools/ when absent.

UV_VERSION := 0.13.9
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
UV := $(if $(SYSTEM_UV),$(SYSTEM_UV),.tools/bin/uv)
PYTHON ?= python3

.DEFAULT_GOAL := help
.PHONY: help install run test lint format pytest packaging audit bench migrate clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock $(if $(SYSTEM_UV),,.tools/bin/uv)
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced ## Install the locked dependencies into .venv

run: install ## Start the gateway on the embedded default (SQLite, in-process sandboxes)
	$(UV) run ledgergate serve

test: install lint pytest ## Lint, type-check and run every test (SQLite and PostgreSQL)

lint: install ## ruff format --check, ruff check, mypy --strict
	$(UV) run ruff format --no-cache --check .
	$(UV) run ruff check --no-cache .
	$(UV) run mypy app system_apis process_apis

format: install ## Apply ruff's formatting and autofixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

pytest: install ## Run the test suite only
	$(UV) run pytest

packaging: install ## hadolint the Dockerfile, lint the helm chart, validate its manifests (in `make test` too)
	$(UV) run pytest tests/packaging

audit: install ## pip-audit every locked dependency against PyPI's vulnerability data (needs PyPI)
	@mkdir -p var
	$(UV) export --frozen --no-emit-project --format requirements-txt --quiet \
		--output-file var/requirements-audit.txt
	$(UV) run pip-audit --strict --disable-pip --progress-spinner off \
		--requirement var/requirements-audit.txt

bench: install ## Run the benchmarks (a few minutes); each appends its results to bench/RESULTS.md
	$(UV) run python -m bench.circuit
	$(UV) run python -m bench.governance
	$(UV) run python -m bench.redis_limiter

migrate: install ## Apply database migrations to LEDGERGATE_DATABASE_URL
	$(UV) run ledgergate migrate

clean: ## Remove the local database, caches and virtual environments
	rm -rf var .venv .tools .pytest_cache .mypy_cache .ruff_cache
