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

test: lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check src tests streamlit_app

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest: $(INSTALLED) $(NODE_INSTALLED) system-deps
	$(BIN)/python -m pytest

soak: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m pytest -m soak

system-deps:
	scripts/install-system-deps.sh

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,dev]'
	touch $@

$(NODE_INSTALLED): $(COSMOS_SERVER)/package-lock.json
	npm ci --prefix $(COSMOS_SERVER) --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(COSMOS_SERVER)/node_modules .mypy_cache .ruff_cache .pytest_cache
