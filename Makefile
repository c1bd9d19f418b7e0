# Ledgergate — `make run` starts the gateway, `make test` runs the whole suite.
# Needs python3 (>= 3.11) on the PATH, uv being bootstrapped into .tools/ when absent,
# and for `make test` Node.js and npm: scripts/prerequisites installs a missing one with
# the machine's package manager where it can, or says in one sentence what to install.

UV_VERSION := 0.13.9
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
UV := $(if $(SYSTEM_UV),$(SYSTEM_UV),.tools/bin/uv)
PYTHON ?= python3

.DEFAULT_GOAL := help
.PHONY: help install tools run test lint format pytest packaging audit bench chaos migrate openapi \
	openapi-release docs-assets clean fuzz

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	@PYTHON=$(PYTHON) scripts/prerequisites python
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock $(if $(SYSTEM_UV),,.tools/bin/uv)
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced ## Install the locked dependencies into .venv

# The contract governance tools (Spectral, Optic) come from npm, locked by package-lock.json.
node_modules/.installed: package.json package-lock.json
	@scripts/prerequisites node
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

tools: node_modules/.installed ## Install the npm contract tools into node_modules/

run: install ## Start the gateway on the embedded default (SQLite, in-process sandboxes and background work)
	$(UV) run ledgergate serve

test: install tools lint pytest ## Lint, type-check and run every test, contract checks included

lint: install ## ruff format --check, ruff check, mypy --strict, import contracts, no backend call inside a transaction
	$(UV) run ruff format --no-cache --check .
	$(UV) run ruff check --no-cache .
	$(UV) run mypy core app process_apis system_apis events sandboxes lint tests/support/fakes tests/unit/process_apis
	$(UV) run lint-imports --no-cache
	$(UV) run python -m lint.backend_in_transaction app process_apis

format: install ## Apply ruff's formatting and autofixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

pytest: install tools ## Run the test suite only, one process per core (PYTEST_ARGS="tests/unit -x" for a part)
ifeq ($(strip $(PYTEST_ARGS)),)
	UV=$(UV) scripts/pytest-both
else
	$(UV) run pytest $(PYTEST_ARGS)
endif

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
	$(UV) run python -m bench.erp_client
	$(UV) run python -m bench.governance
	$(UV) run python -m bench.redis_limiter
	$(UV) run python -m bench.posting
	$(UV) run python -m bench.replay
	$(UV) run python -m bench.scale
	$(UV) run python -m bench.partner_paging
	$(UV) run python -m bench.reconciliation
	$(UV) run python -m bench.usage
	$(UV) run python -m bench.events

chaos: install ## Reliability harness: fault storm, registration retry storm, SIGKILL, PostgreSQL restart, overload, slow uploads, NATS restart, webhook receiver outage, relay SIGKILL, usage duplicate storm (one line each)
	$(UV) run python -m chaos

fuzz: install ## The contract fuzzer (schemathesis) at full depth: 40 generated cases per operation, 25 stateful runs of 6 steps
	$(UV) run pytest tests/contract/test_schemathesis.py -p no:cacheprovider --hypothesis-profile=fuzz

migrate: install ## Apply database migrations to LEDGERGATE_DATABASE_URL
	$(UV) run ledgergate migrate

openapi: install ## Regenerate the contracts in openapi/: OpenAPI from the app, AsyncAPI from the event catalog (deterministic)
	$(UV) run python -m app.contracts write

openapi-release: openapi ## Snapshot the contracts into openapi/released/<name>/<version>.json
	$(UV) run python -m app.contracts release

# Swagger UI and ReDoc, vendored so the docs work offline: `npm pack` checks each
# tarball against the registry's integrity hash; bump the versions here to refresh.
SWAGGER_UI_VERSION := 5.35.0
REDOC_VERSION := 2.5.4
DOCS_ASSETS := app/governance/docs_assets

docs-assets: ## Vendor the pinned Swagger UI and ReDoc assets into app/governance/docs_assets/
	rm -rf .tools/docs-assets && mkdir -p .tools/docs-assets/swagger .tools/docs-assets/redoc
	cd .tools/docs-assets && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) redoc@$(REDOC_VERSION)
	tar -xzf .tools/docs-assets/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz -C .tools/docs-assets/swagger
	tar -xzf .tools/docs-assets/redoc-$(REDOC_VERSION).tgz -C .tools/docs-assets/redoc
	mkdir -p $(DOCS_ASSETS)
	cp .tools/docs-assets/swagger/package/swagger-ui-bundle.js \
	   .tools/docs-assets/swagger/package/swagger-ui.css \
	   .tools/docs-assets/swagger/package/favicon-32x32.png $(DOCS_ASSETS)/
	cp .tools/docs-assets/swagger/package/LICENSE $(DOCS_ASSETS)/swagger-ui.LICENSE
	cp .tools/docs-assets/swagger/package/NOTICE $(DOCS_ASSETS)/swagger-ui.NOTICE
	cp .tools/docs-assets/redoc/package/bundles/redoc.standalone.js $(DOCS_ASSETS)/
	cp .tools/docs-assets/redoc/package/LICENSE $(DOCS_ASSETS)/redoc.LICENSE
	printf 'swagger-ui-dist %s\nredoc %s\n' $(SWAGGER_UI_VERSION) $(REDOC_VERSION) > $(DOCS_ASSETS)/VERSIONS
	rm -rf .tools/docs-assets

clean: ## Remove the local database, caches and virtual environments
	rm -rf var .venv .tools node_modules .pytest_cache .mypy_cache .ruff_cache
