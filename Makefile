# The two set-up commands are `make run` and `make test`; each installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
COSMOS_SERVER := tools/cosmos-server
NODE_INSTALLED := $(COSMOS_SERVER)/node_modules/.package-lock.json
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test lint typecheck pytest soak clean system-deps

run: $(INSTALLED)
	$(BIN)/streamlit run streamlit_app/app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# Two at a time, on the machine's two cores: the Python and Node installs, then pytest beside
# the static checks (and checkov's own install). None of them writes what another reads.
test:
	$(MAKE) --no-print-directory -j2 $(INSTALLED) $(NODE_INSTALLED)
	$(MAKE) --no-print-directory -j2 pytest lint typecheck infra-check

lint: $(INSTALLED)
	$(BIN)/ruff check src tests streamlit_app
	$(BIN)/python scripts/unasync.py --check

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest: $(INSTALLED) $(NODE_INSTALLED) system-deps
	$(BIN)/python -m pytest

soak: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m pytest -m soak

system-deps:
	scripts/install-system-deps.sh

# Benchmarks: writes bench/results/<date>.json, docs/benchmarks.md and docs/img/bench-*.png.
# BENCH_SCALE=full for the long variant.
.PHONY: bench
bench: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python -m bench.run

# Figures of the issue 6 features (search, migrate): bench/results/features-<date>.json.
.PHONY: bench-features
bench-features: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m bench.features

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,dev,tokens,postgres,openai-agents,agent-framework,langchain]'
	touch $@

$(NODE_INSTALLED): $(COSMOS_SERVER)/package-lock.json
	npm ci --prefix $(COSMOS_SERVER) --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(COSMOS_SERVER)/node_modules .mypy_cache .ruff_cache .pytest_cache

# Infrastructure checks: ruff over the Azure example and scripts, then checkov on infra/ (in
# its own venv, as its pins clash with ours; --skip-download keeps it offline).
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
.PHONY: infra-check azure-package

infra-check: $(INSTALLED) $(CHECKOV)
	$(BIN)/ruff check examples infra
	$(CHECKOV) -d infra --framework bicep --quiet --compact --skip-download

$(CHECKOV):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'

# The zip packages docs/azure.md deploys: dist/azure/functions.zip and dist/azure/webapp.zip.
azure-package: $(INSTALLED)
	$(BIN)/python infra/package_apps.py --out dist/azure
