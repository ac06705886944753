# SocialLab: `make run` serves the whole product locally, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(PY) -m pytest
# make test runs the test files on this many processes (pytest-xdist), each with its own PostgreSQL;
# files go out in the order they are collected, so the few slow end-to-end files start first.
TEST_WORKERS ?= 2

.PHONY: run test test-unit test-integration test-e2e lint typecheck migrate bench install clean package deploy

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
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --cov=sociallab --cov-report=term tests

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

# Production (README, "Deploy"): one zip per folder of functions/ into infra/dist/, then Terraform
# with infra/terraform.tfvars. The zips carry the storage library of storage_backend in the tfvars.
TFVARS          := infra/terraform.tfvars
STORAGE_BACKEND := $(or $(shell sed -n 's/^storage_backend *= *"\(.*\)".*/\1/p' $(TFVARS) 2>/dev/null),supabase)

package: $(STAMP)
	PYTHON=$(PY) STORAGE_BACKEND=$(STORAGE_BACKEND) bash infra/package.sh

deploy: package
	@test -f $(TFVARS) || { echo "$(TFVARS) is missing: copy infra/terraform.tfvars.example and fill it in" >&2; exit 1; }
	terraform -chdir=infra apply -var-file=terraform.tfvars $(TF_APPLY_FLAGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .coverage .artifacts
