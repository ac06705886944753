"""Each function's zip carries what its code imports and nothing else (issue 7.1).

What a function needs is declared once: pyproject.toml's dependencies plus the optional-dependency
group named after the function (infra/package.py expands it). What it imports is read from its code:
functions/<name>/main.py and every sociallab module it may load, lazy imports included. Checked per
storage backend, since a zip carries only its backend's library.
"""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement

from tests.deployment import (
    BACKEND_MODULES,
    ROOT,
    canonical,
    distribution_of,
    function_names,
    installed_closure,
    packaging,
    third_party_imports,
)

pytestmark = pytest.mark.unit

BACKENDS = sorted(BACKEND_MODULES)
HEAVY = {"pillow", "pillow-heif", "google-genai", "boto3"}
# The list: these ship without Pillow, pillow-heif, google-genai and boto3.
LIGHT = ("publish-due", "posts", "instagram-auth", "refresh-tokens")
CASES = [(name, backend) for name in function_names() for backend in BACKENDS]


def imported_distributions(name: str, backend: str) -> set[str]:
    modules = third_party_imports(name, backend=backend)
    owners = {module: distribution_of(module) for module in modules}
    # `from google import genai` also names the namespace package `google`, which nothing owns.
    unowned = [m for m, owner in owners.items() if owner is None and not any(o.startswith(m + ".") for o in modules)]
    assert unowned == [], f"{name} imports modules no installed distribution provides: {unowned}"
    return {owner for owner in owners.values() if owner}


def group_distributions(name: str, backend: str) -> set[str]:
    """The distributions the function's group names, besides the project's core dependencies."""
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line for line in packaging().requirements(name, backend=backend) if line not in core]
    return {canonical(Requirement(line).name) for line in lines}


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_a_function_s_group_declares_every_distribution_its_code_imports(name: str, backend: str) -> None:
    installed = installed_closure(packaging().requirements(name, backend=backend))
    assert imported_distributions(name, backend) - installed == set()


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_a_function_s_group_adds_only_what_its_code_imports(name: str, backend: str) -> None:
    """Whatever a group adds to the core (with what it pulls in) is imported by the function itself,
    so a zip never carries another function's libraries."""
    assert group_distributions(name, backend) - imported_distributions(name, backend) == set()


@pytest.mark.parametrize("name", [name for name in LIGHT if name in function_names()])
def test_light_functions_ship_without_image_gemini_or_s3_libraries(name: str) -> None:
    assert installed_closure(packaging().requirements(name)) & HEAVY == set()


def test_every_group_named_in_a_function_group_exists_and_dev_installs_every_function() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dev_self = [line for line in groups["dev"] if line.startswith("sociallab[")]
    installed_by_dev = {extra for line in dev_self for extra in line.split("[")[1].rstrip("]").split(",")}
    assert set(function_names()) - installed_by_dev == set(), "add the function's group to the dev extra"
    for name in function_names():
        for backend in BACKENDS:
            packaging().requirements(name, backend=backend)  # raises for a missing or unknown group


def test_a_function_without_a_group_or_an_unknown_backend_is_refused() -> None:
    module = packaging()
    with pytest.raises(module.PackagingError, match="no optional-dependency group 'no-such-function'"):
        module.requirements("no-such-function")
    with pytest.raises(module.PackagingError, match="STORAGE_BACKEND"):
        module.requirements("posts", backend="local")
