"""What the deployment declares, read from its sources for the tests: Terraform (python-hcl2),
infra/package.py (which functions exist, what each needs) and the code each function loads.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
from packaging.requirements import Requirement

from tests.unit.test_boundaries import imports_of, is_dev, library_modules

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
FUNCTIONS = ROOT / "functions"
# Modules that only run with one STORAGE_BACKEND: a zip for another backend does not need their imports.
BACKEND_MODULES = {"supabase": "sociallab.storage.supabase", "s3": "sociallab.storage.s3"}
_HCL = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


@cache
def packaging() -> ModuleType:
    """infra/package.py, imported by path (it is a script, not part of the library)."""
    spec = importlib.util.spec_from_file_location("sociallab_infra_package", INFRA / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def function_names() -> list[str]:
    names: list[str] = packaging().function_names()
    return names


@cache
def terraform(file: str) -> dict[str, Any]:
    """One .tf (or .tfvars) file as a dict, strings without their quotes, blocks as lists."""
    parsed: dict[str, Any] = hcl2.loads((INFRA / file).read_text(encoding="utf-8"), serialization_options=_HCL)
    return parsed


def terraform_locals(file: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in terraform(file).get("locals", []):
        merged.update(block)
    return merged


def terraform_resource(file: str, kind: str, name: str) -> dict[str, Any]:
    for block in terraform(file).get("resource", []):
        if kind in block and name in block[kind]:
            found: dict[str, Any] = block[kind][name]
            return found
    raise AssertionError(f"{file} has no resource {kind}.{name}")


def terraform_variables() -> dict[str, Any]:
    return {name: body for block in terraform("variables.tf")["variable"] for name, body in block.items()}


def modules_of(name: str, *, backend: str | None = None) -> set[str]:
    """Every sociallab module functions/<name>/main.py may load, lazy imports included (statically),
    without sociallab.dev; with `backend`, without the other backends' modules."""
    modules = library_modules()
    skipped = {module for other, module in BACKEND_MODULES.items() if backend and other != backend}
    pending = sorted(imports_of(FUNCTIONS / name / "main.py"))
    reached: set[str] = set()
    while pending:
        parts = pending.pop().split(".")
        for candidate in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            if candidate in modules and candidate not in reached and candidate not in skipped and not is_dev(candidate):
                reached.add(candidate)
                pending.extend(imports_of(modules[candidate]))
    return reached


def third_party_imports(name: str, *, backend: str | None = None) -> set[str]:
    """Every module outside sociallab and the standard library that the function's code imports."""
    modules = library_modules()
    sources = [FUNCTIONS / name / "main.py", *(modules[module] for module in modules_of(name, backend=backend))]
    found = {imported for path in sources for imported in imports_of(path)}
    return {
        module
        for module in found
        if module.split(".")[0] not in ("sociallab", "__future__")
        and module.split(".")[0] not in sys.stdlib_module_names
    }


@cache
def _module_owners() -> dict[str, str]:
    owners: dict[str, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or []:
            if file.suffix == ".py" and ".." not in file.parts:
                dotted = ".".join(file.with_suffix("").parts)
                owners.setdefault(dotted.removesuffix(".__init__"), canonical(dist.metadata["Name"]))
    return owners


def distribution_of(module: str) -> str | None:
    """The (canonical) name of the installed distribution that provides `module`, or None."""
    owners = _module_owners()
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        owner = owners.get(".".join(parts[:end]))
        if owner:
            return owner
    return None


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions pip installs for `requirements` (as installed here: same versions, markers
    evaluated for this interpreter), by canonical name."""
    found: set[str] = set()
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = canonical(requirement.name)
        if key in found:
            continue
        found.add(key)
        for line in metadata.requires(requirement.name) or []:
            nested = Requirement(line)
            extras = ["", *sorted(requirement.extras)]
            if nested.marker is None or any(nested.marker.evaluate({"extra": extra}) for extra in extras):
                nested.marker = None
                pending.append(nested)
    return found
