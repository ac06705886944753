#!/usr/bin/env bash
# Build one deployable source zip per function: infra/dist/<name>.zip containing
#   main.py (+ anything else in functions/<name>/)
#   sociallab-<version>-py3-none-any.whl      the project's library, without sociallab.dev
#   requirements.txt                           ./sociallab-*.whl + this function's dependencies only
# Cloud Run functions' Python build runs `pip install -r requirements.txt` in the source root, so
# the relative wheel path resolves and pip installs the library with those dependencies.
# Which functions exist and what each needs: the folders of functions/ and pyproject.toml's
# optional-dependency group named after each (infra/package.py).
#
# Zips are reproducible (fixed timestamps, sorted entries, SOURCE_DATE_EPOCH for the wheel): an
# unchanged function keeps its hash, so Terraform rebuilds only what changed.
#
# usage: infra/package.sh [function-name ...]     (default: every folder of functions/)
# env:   PYTHON             interpreter, >= 3.11 (default: python3)
#        STORAGE_BACKEND    supabase (default) or s3, as storage_backend in terraform.tfvars
#        REQUIREMENTS_LOCK  optional pinned requirements file (e.g. from `pip freeze` or pip-compile),
#                           shipped as constraints.txt next to the version ranges of pyproject.toml
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DIST="${DIST:-$HERE/dist}"
PYTHON="${PYTHON:-python3}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}" # 1980-01-01, the earliest zip time

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build the wheel from a clean copy of the project, so no build/ or *.egg-info is written into
# the repository and nothing stale (caches, old build output) ends up in the wheel. `sociallab.dev`
# (dev server, demo seed, sandboxes) is left out: nothing deployed imports it.
mkdir -p "$work/src" "$work/wheel"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$work/src/"
for f in "$ROOT"/LICENSE* "$ROOT"/LICENCE* "$ROOT"/NOTICE*; do [ -f "$f" ] && cp "$f" "$work/src/"; done
(cd "$ROOT" && tar --exclude='__pycache__' --exclude='*.pyc' --exclude='*.egg-info' --exclude='shared/sociallab/dev' -cf - shared) | tar -xf - -C "$work/src"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation "$work/src" -w "$work/wheel" 2>/dev/null \
  || "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps "$work/src" -w "$work/wheel"

wheel=("$work"/wheel/sociallab-*.whl)
"$PYTHON" "$HERE/package.py" "${wheel[0]}" "$DIST" "$@"
