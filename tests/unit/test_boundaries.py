"""The package's boundaries: dev-only code stays in `sociallab.dev`, and deployed entry points load
nothing heavy or dev-only (CONVENTIONS.md 2: cold start is a feature; `publish-due` must not import
Pillow or google-genai; issue 7: nor PyJWT, cryptography or google-auth).

- statically (`ast`), no module outside `sociallab.dev` imports it, and every module outside it is
  loaded by a deployed entry point or the migrator (so dev-only code cannot live elsewhere);
- in a fresh interpreter, each `functions/<name>/main.py` is loaded the way functions-framework
  loads it, and `sys.modules` is checked afterwards.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = ROOT / "shared"
FUNCTIONS = ROOT / "functions"
DEV = "sociallab.dev"

# Modules outside sociallab.dev that no deployed entry point loads, and why they are not dev code.
NOT_DEPLOYED = {
    # The OpenAPI document of the routers' own declarations (the contract); the dev server serves it.
    "sociallab.http.openapi": "the contract document, built from the routers",
}

# What no entry point may load when it is loaded (cold start, issue 7): each is imported by the code
# that needs it, when a request first needs it: PyJWT/cryptography for user tokens and OIDC, Pillow
# where images are made, google-genai where captions are written, boto3 for S3 storage.
HEAVY = ("jwt", "cryptography", "PIL", "pillow_heif", "google.genai", "google.auth", "boto3")
ENTRY_POINTS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))
# Functions only Cloud Scheduler calls parse no request body or query, so they start without pydantic
# (with pydantic-settings it cost more start-up time than publish-due's own code): their settings are a
# dataclass and their results are dataclasses too.
WITHOUT_PYDANTIC = ("housekeeping", "insights-sync", "publish-due", "refresh-tokens")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module name `source` (the code of `module`) imports, anywhere in it (lazy imports too),
    with relative imports resolved; `from a import b` yields both `a` and `a.b`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def is_dev(name: str) -> bool:
    return name == DEV or name.startswith(DEV + ".")


def library_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((PACKAGE_ROOT / "sociallab").rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    name = module_name(path) if path.is_relative_to(PACKAGE_ROOT) else path.stem
    return imported_modules(path.read_text(encoding="utf-8"), name, is_package=is_package)


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import sociallab.dev.server", "sociallab.x", True),
        ("from sociallab import dev", "sociallab.x", True),
        ("from sociallab.dev.sandboxes.drive import DriveSandbox", "sociallab.x", True),
        ("def f():\n    from .dev import seed", "sociallab.x", True),
        ("from ..dev import loader", "sociallab.http.router", True),
        ("import importlib\nimportlib.import_module('sociallab.dev.demo')", "sociallab.x", True),
        ("from sociallab import devices", "sociallab.x", False),
        ("from sociallab.http import dev_tools", "sociallab.x", False),
        ("from . import db", "sociallab.x", False),
    ],
)
def test_the_scan_finds_every_way_of_importing_dev_code(source: str, module: str, expected: bool) -> None:
    assert any(is_dev(name) for name in imported_modules(source, module)) is expected


def test_nothing_outside_sociallab_dev_imports_it() -> None:
    sources = [p for p in library_modules().values() if not is_dev(module_name(p))]
    sources += sorted(FUNCTIONS.rglob("*.py"))
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imports_of(path) if is_dev(name)) for path in sources
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_module_outside_sociallab_dev_is_deployed_code() -> None:
    """Dev-only code cannot hide elsewhere: whatever the entry points and the migrator do not load
    (directly or through other modules, lazy imports included) must be under sociallab.dev."""
    modules = library_modules()
    pending = [name for main in sorted(FUNCTIONS.glob("*/main.py")) for name in imports_of(main)]
    pending.append("sociallab.migrate")  # `python -m sociallab.migrate` is deployed too (README)
    pending.append("sociallab.instagram.rekey")  # so is `python -m sociallab.instagram.rekey` (README, Runbook)
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for candidate in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            if candidate in modules and candidate not in reached:
                reached.add(candidate)
                pending.extend(imports_of(modules[candidate]))
    unreached = {name for name in modules if not is_dev(name) and name not in reached}
    assert unreached == set(NOT_DEPLOYED)


PROBE = """
import json, sys
from functions_framework.aio import create_asgi_app
create_asgi_app(sys.argv[1], sys.argv[2])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(main: Path) -> list[str]:
    """`sys.modules` of a fresh interpreter after functions-framework loaded `main` (as Cloud Run does)."""
    target = main.parent.name.replace("-", "_")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, target, str(main)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def loaded_from(loaded: list[str], roots: tuple[str, ...]) -> list[str]:
    return sorted({root for root in roots for name in loaded if name == root or name.startswith(root + ".")})


def test_the_probe_sees_what_an_entry_point_loads(tmp_path: Path) -> None:
    main = tmp_path / "heavy" / "main.py"
    main.parent.mkdir()
    main.write_text(
        "import functions_framework.aio\nimport PIL.Image\nimport sociallab.dev.loader\n\n"
        "@functions_framework.aio.http\nasync def heavy(request):\n    return None\n"
    )
    assert loaded_from(modules_loaded_by(main), (*HEAVY, DEV)) == ["PIL", DEV]


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_points_load_nothing_heavy_or_dev_only(name: str) -> None:
    assert loaded_from(modules_loaded_by(FUNCTIONS / name / "main.py"), (*HEAVY, DEV)) == []


@pytest.mark.parametrize("name", WITHOUT_PYDANTIC)
def test_scheduled_functions_start_without_pydantic(name: str) -> None:
    assert loaded_from(modules_loaded_by(FUNCTIONS / name / "main.py"), ("pydantic", "pydantic_settings")) == []
