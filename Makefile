# SocialLab: `make run` serves the whole product locally, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(PY) -m pytest

.PHONY: run test test-unit test-integration test-e2e lint typecheck migrate bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m sociallab.dev.server

test: $(STAMP)
	@sh tests/browser/ensure-chromium.sh
	$(PYTEST) --cov=sociallab --cov-report=term tests

test-unit: $(STAMP)
	$(PYTEST) -m unit tests

test-integration: $(STAMP)
	$(PYTEST) -m integration tests

test-e2e: $(STAMP)
	@sh tests/browser/ensure-chromium.sh
	$(PYTEST) -m e2e tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

migrate: $(STAMP)
	$(PY) -m sociallab.migrate

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .data .pytest_cache .coverage .artifacts
