"""A packaged function runs the way Cloud Run runs it (issue 7.2).

`infra/package.sh` builds every zip; each is unpacked into a fresh virtualenv that gets only its
requirements.txt (the function's own dependencies), started with the `functions-framework` command
and the environment Terraform sets (infra/functions.tf `local.env`, the variables' defaults and
terraform.tfvars.example, its secrets), and must answer /healthz with 200 and a protected route
without credentials with 401 in the error envelope.

Wheels come from a local wheelhouse (`.cache/wheelhouse`, or SOCIALLAB_WHEELHOUSE), installed with
`pip --no-index`; only what it lacks is fetched, once, with `pip wheel` (pip's cache makes that a
local copy when `make install` ran). README, "Deploy", gives the cost.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sociallab.crypto import generate_key_setting
from sociallab.dev.loader import load_function
from tests.deployment import (
    FUNCTIONS,
    INFRA,
    ROOT,
    function_names,
    packaging,
    terraform,
    terraform_locals,
    terraform_variables,
)
from tests.e2e.conftest import DevServer, free_port, wait_healthy

pytestmark = pytest.mark.e2e

WHEELHOUSE = Path(os.environ.get("SOCIALLAB_WHEELHOUSE") or ROOT / ".cache" / "wheelhouse")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
PROJECT_NUMBER = "123456789012"
# Values of the secrets Terraform mounts (DATABASE_URL is the test's database).
SECRET_VALUES = {
    "SUPABASE_SERVICE_ROLE_KEY": "test-service-role-key",
    "SUPABASE_JWT_SECRET": "test-jwt-secret-at-least-32-bytes-long!!",
    "INSTAGRAM_APP_SECRET": "test-instagram-app-secret",
    "GOOGLE_SERVICE_ACCOUNT_JSON": '{"type": "service_account"}',
    "GEMINI_API_KEY": "test-gemini-key",
    "TOKEN_ENCRYPTION_KEY": generate_key_setting("k1"),
    "URL_SIGNING_KEY": "test-url-signing-key",
    "WEBHOOK_SECRET": "test-webhook-secret",
}


def run_url(name: str, region: str) -> str:
    return f"https://{name}-{PROJECT_NUMBER}.{region}.run.app"  # main.tf local.run_url


def terraform_environment(name: str, secrets: dict[str, str]) -> dict[str, str]:
    """What infra/functions.tf `local.env[name]` plus the mounted secrets evaluate to, with the
    variables' defaults overridden by terraform.tfvars.example."""
    values = {var: body.get("default") for var, body in terraform_variables().items()}
    values.update(terraform("terraform.tfvars.example"))
    region = str(values["region"])
    fn = terraform_locals("functions.tf")["functions"][name]
    scheduled = name in terraform_locals("scheduler.tf")["schedules"]
    computed = {"INSTAGRAM_REDIRECT_URI": f"{run_url('instagram-auth', region)}/callback"}  # its default
    env: dict[str, str] = {}
    for key, expression in terraform_locals("functions.tf")["common_env"].items():
        if key in computed:
            env[key] = computed[key]
        elif plain := re.fullmatch(r"\$\{(?:tostring\()?var\.(\w+)\)?\}", expression):
            value = values[plain[1]]
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
        elif joined := re.fullmatch(r'\$\{join\("([^"]*)", var\.(\w+)\)\}', expression):
            env[key] = joined[1].join(values[joined[2]])
        else:
            assert "${" not in expression, f"teach this test how Terraform computes {key} = {expression}"
            env[key] = expression
    per_function = {
        "DB_POOL_MAX_SIZE": str(fn["db_pool"]),
        "SCHEDULER_AUDIENCE": run_url(name, region) if scheduled else "",
        "SCHEDULER_SERVICE_ACCOUNT": f"sociallab-scheduler@{values['project_id']}.iam.gserviceaccount.com"
        if scheduled
        else "",
        "SCHEDULER_PLATFORM_VERIFIED": "true" if scheduled and not fn["public"] else "",
    }
    assert all(key in terraform_locals("functions.tf")["env"] for key in per_function)
    env.update(per_function)
    env.update({secret: secrets[secret] for secret in fn["secrets"]})
    return {key: value for key, value in env.items() if value != ""}  # Terraform drops empty values


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        ["bash", str(INFRA / "package.sh")],
        env={**os.environ, "PYTHON": sys.executable, "DIST": str(out)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def install(requirements: Path, python: Path) -> None:
    """Install a requirements file into the virtualenv of `python` from the wheelhouse only,
    filling the wheelhouse first when it lacks something."""
    command = [*PIP, "--python", str(python), "install", "--quiet", "--no-compile", "--no-index"]
    command += ["--find-links", str(WHEELHOUSE), "-r", requirements.name]
    done = subprocess.run(command, cwd=requirements.parent, capture_output=True, text=True)
    if done.returncode != 0:
        remote = requirements.parent / "remote-requirements.txt"
        lines = requirements.read_text().splitlines()
        remote.write_text("\n".join(line for line in lines if not line.startswith("./")) + "\n")
        fetch = [*PIP, "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE), "-r", remote.name]
        fetched = subprocess.run(fetch, cwd=requirements.parent, capture_output=True, text=True, timeout=900)
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        done = subprocess.run(command, cwd=requirements.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_function_is_packaged_with_its_requirements_and_without_dev_code(dist: Path) -> None:
    assert sorted(path.stem for path in dist.glob("*.zip")) == function_names()
    for name in function_names():
        with zipfile.ZipFile(dist / f"{name}.zip") as archive:
            entries = archive.namelist()
            (wheel,) = [entry for entry in entries if entry.endswith(".whl")]
            own = sorted(str(p.relative_to(FUNCTIONS / name)) for p in (FUNCTIONS / name).rglob("*") if p.is_file())
            own = [entry for entry in own if "__pycache__" not in entry]
            assert sorted(entries) == sorted([*own, wheel, "requirements.txt"])
            requirements = archive.read("requirements.txt").decode().splitlines()
            assert requirements[1:] == [f"./{wheel}", *packaging().requirements(name)]
            with zipfile.ZipFile(archive.open(wheel)) as library:
                modules = library.namelist()
        assert "sociallab/http/router.py" in modules
        assert [module for module in modules if module.startswith(("sociallab/dev/", "tests/", "bench/"))] == []


@pytest.fixture(scope="session")
def environments() -> dict[str, Path]:
    """Virtualenvs by the text of the requirements.txt they were made from: functions whose zips
    ask for exactly the same things share one (the library wheel is the same build for all)."""
    return {}


def environment_for(requirements: Path, environments: dict[str, Path], root: Path) -> Path:
    key = requirements.read_text()
    if key not in environments:
        venv = root / f"venv-{len(environments)}"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        install(requirements, venv / "bin" / "python")
        environments[key] = venv
    return environments[key]


@pytest.fixture
def packaged(
    request: pytest.FixtureRequest,
    dist: Path,
    environments: dict[str, Path],
    database_url: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DevServer]:
    """functions/<name> from its zip, in a virtualenv holding only its requirements, served by the
    `functions-framework` command."""
    name: str = request.param
    source = tmp_path / "source"
    with zipfile.ZipFile(dist / f"{name}.zip") as archive:
        archive.extractall(source)
    venv = environment_for(source / "requirements.txt", environments, tmp_path_factory.getbasetemp())
    port = free_port()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        # What Cloud Run sets for a function, and what its buildpack starts: functions-framework --target=...
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "K_SERVICE": name,
        "FUNCTION_TARGET": packaging().entry_point(name),
        **terraform_environment(name, {**SECRET_VALUES, "DATABASE_URL": database_url}),
    }
    process = subprocess.Popen(
        [str(venv / "bin" / "functions-framework"), "--target", env["FUNCTION_TARGET"]],
        cwd=source,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = DevServer(process, f"http://127.0.0.1:{port}")
    threading.Thread(target=server.read_output, daemon=True).start()
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def protected_route(name: str) -> tuple[str, str]:
    """The first route of the function that is not public, with its path parameters filled in."""
    router = load_function(FUNCTIONS / name / "main.py").router
    assert router is not None
    route = next(route for route in router.routes if "public" not in route.auth)
    path = re.sub(r"\{[a-z_]+(?::uuid)?\}", str(uuid.uuid4()), route.path)
    return route.method, path


@pytest.mark.parametrize("packaged", function_names(), indirect=True)
def test_a_packaged_function_starts_and_answers(packaged: DevServer, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["packaged"]
    health = wait_healthy(packaged)
    assert health.json() == {"status": "ok", "function": name}
    method, path = protected_route(name)
    response = httpx.request(method, f"{packaged.base_url}{path}", json={}, timeout=10)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    # Terraform's FRONTEND_ORIGINS reaches the function: a browser on the studio's origin may call it.
    route, _ = load_function(FUNCTIONS / name / "main.py").router.match(method, path)  # type: ignore[union-attr]
    if "user" in route.auth:
        studio = terraform("terraform.tfvars.example")["frontend_origins"][0]
        preflight = httpx.options(
            f"{packaged.base_url}{path}",
            headers={"Origin": studio, "Access-Control-Request-Method": method},
            timeout=10,
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == studio
