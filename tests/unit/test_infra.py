"""Terraform deploys exactly the functions the code has, each the way its code needs (issue 7.5).

The HCL is parsed (python-hcl2), not planned: per function a resource with its entry point, runtime,
memory, timeout, concurrency, instances and the secrets its code reads; for a scheduled function
(its router declares `schedule_seconds`) a Cloud Scheduler job at that cadence, calling with an OIDC
token of the scheduler service account. `terraform fmt -check` and `terraform validate` run when
the binary (and, for validate, the google provider) is on this machine.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest

from sociallab.config import Settings
from sociallab.dev.loader import load_function
from sociallab.http.router import Router
from tests.deployment import (
    FUNCTIONS,
    INFRA,
    ROOT,
    function_names,
    modules_of,
    packaging,
    terraform_locals,
    terraform_resource,
    terraform_variables,
)
from tests.unit.test_boundaries import library_modules

pytestmark = pytest.mark.unit

NAMES = function_names()
FUNCTION = "google_cloudfunctions2_function"
# Cloud Run functions (gen2) limits: memory sizes offered, request timeout of an HTTP function.
MEMORY_SIZES = ("128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi")
MAX_HTTP_TIMEOUT = 3600
MAX_SCHEDULER_DEADLINE = 1800  # Cloud Scheduler's attempt deadline for HTTP targets: 15 s to 30 min
POOLER_CLIENT_CONNECTIONS = 200  # Supavisor's client connections on Supabase's smallest compute sizes


def functions() -> dict[str, dict[str, object]]:
    declared: dict[str, dict[str, object]] = terraform_locals("functions.tf")["functions"]
    return declared


def schedules() -> dict[str, dict[str, object]]:
    declared: dict[str, dict[str, object]] = terraform_locals("scheduler.tf")["schedules"]
    return declared


@cache
def router_of(name: str) -> Router:
    router = load_function(FUNCTIONS / name / "main.py").router
    assert router is not None, f"functions/{name}/main.py has no module-level `router`"
    return router


def secrets_read_by(name: str) -> set[str]:
    """The Terraform secrets (environment variables) that the code functions/<name>/main.py loads
    names: a secret setting used as an attribute (`settings.webhook_secret`) or by name
    (`settings.secret("gemini_api_key")`)."""
    every_secret = {secret.lower() for secret in terraform_locals("secrets.tf")["all_secrets"]}
    assert every_secret <= {field.name for field in dataclasses.fields(Settings)}, "every Terraform secret is a setting"
    modules = library_modules()
    sources = [FUNCTIONS / name / "main.py", *(modules[module] for module in modules_of(name))]
    named: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                named.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.add(node.value.lower())
    return {secret.upper() for secret in every_secret & named}


def cron_period_seconds(cron: str) -> int:
    """The period of the simple crontab lines the scheduler uses (every N minutes, hourly, daily).

    Raises:
        ValueError: any other shape.
    """
    minute, hour, *rest = cron.split()
    if rest != ["*", "*", "*"]:
        raise ValueError(f"unsupported cron {cron!r}")
    if hour == "*" and (step := re.fullmatch(r"\*(?:/(\d+))?", minute)):
        return 60 * int(step[1] or 1)
    if hour == "*" and minute.isdigit():
        return 3600
    if minute.isdigit() and hour.isdigit():
        return 24 * 3600
    raise ValueError(f"unsupported cron {cron!r}")


def test_terraform_deploys_exactly_the_folders_of_functions() -> None:
    declared = set(functions())
    assert declared - set(NAMES) == set(), "a Terraform function has no functions/<name>/main.py"
    assert set(NAMES) - declared == set(), "a folder of functions/ has no entry in infra/functions.tf"
    assert set(schedules()) - set(NAMES) == set(), "a scheduler job names no functions/<name>/main.py"


def test_one_function_resource_per_entry_with_its_entry_point_and_sizing() -> None:
    resource = terraform_resource("functions.tf", FUNCTION, "fn")
    assert resource["for_each"] == "${local.functions}"
    (build,) = resource["build_config"]
    assert build["entry_point"] == '${replace(each.key, "-", "_")}'
    assert build["runtime"] == "${var.python_runtime}"
    (service,) = resource["service_config"]
    assert service["available_memory"] == "${each.value.memory}"
    assert service["timeout_seconds"] == "${each.value.timeout}"
    assert service["max_instance_request_concurrency"] == "${each.value.concurrency}"
    assert service["max_instance_count"] == "${lookup(var.max_instances, each.key, each.value.max_instances)}"
    assert service["environment_variables"] == "${local.env[each.key]}"
    (secrets,) = service["dynamic"]
    assert secrets["secret_environment_variables"]["for_each"].startswith("${[for s in each.value.secrets :")


def test_the_runtime_is_a_python_the_project_supports() -> None:
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(part) for part in needed.removeprefix(">=").split("."))
    runtime = terraform_variables()["python_runtime"]["default"]
    version = re.fullmatch(r"python3(\d+)", runtime)
    assert version is not None and (3, int(version[1])) >= minimum


@pytest.mark.parametrize("name", NAMES)
def test_each_function_s_entry_point_resolves_and_its_sizing_is_valid(name: str) -> None:
    fn = functions()[name]
    assert router_of(name).function == name  # functions-framework found `packaging().entry_point(name)`
    assert packaging().entry_point(name) == name.replace("-", "_")
    assert fn["memory"] in MEMORY_SIZES
    assert isinstance(fn["timeout"], int) and 1 <= fn["timeout"] <= MAX_HTTP_TIMEOUT
    assert isinstance(fn["concurrency"], int) and 1 <= fn["concurrency"] <= 1000
    assert isinstance(fn["max_instances"], int) and fn["max_instances"] >= 1
    assert isinstance(fn["db_pool"], int) and fn["db_pool"] >= 1
    assert isinstance(fn["public"], bool)


def test_every_instance_at_full_pool_fits_the_smallest_supabase_pooler() -> None:
    worst = {name: fn["max_instances"] * fn["db_pool"] for name, fn in functions().items()}  # type: ignore[operator]
    assert sum(worst.values()) <= POOLER_CLIENT_CONNECTIONS, f"max_instances x db_pool: {worst}"


@pytest.mark.parametrize("name", NAMES)
def test_each_function_mounts_exactly_the_secrets_its_code_reads(name: str) -> None:
    mounted = functions()[name]["secrets"]
    assert isinstance(mounted, list) and len(mounted) == len(set(mounted))
    assert set(mounted) == secrets_read_by(name)


@pytest.mark.parametrize("name", NAMES)
def test_a_scheduled_function_has_a_job_at_its_cadence_and_a_private_one_is_scheduled(name: str) -> None:
    period = router_of(name).schedule_seconds
    job = schedules().get(name)
    if period is None:
        assert job is None, f"{name} has a scheduler job but its router declares no schedule_seconds"
        assert functions()[name]["public"], f"{name} is private but nothing invokes it"
        return
    assert job is not None, f"{name} declares schedule_seconds={period} but has no job in scheduler.tf"
    assert isinstance(job["cron"], str) and cron_period_seconds(job["cron"]) == period
    deadline = int(str(job["deadline"]).removesuffix("s"))
    timeout = functions()[name]["timeout"]
    # The attempt deadline is the function timeout: the attempt's outcome is the run's outcome.
    assert isinstance(timeout, int) and deadline == timeout <= MAX_SCHEDULER_DEADLINE
    # The job calls the route the router names (the local cron calls the same one).
    path = terraform_locals("scheduler.tf")["schedule_paths"].get(name, "/")
    assert path == router_of(name).schedule_path
    route, _ = router_of(name).match("POST", path)
    assert "scheduler" in route.auth


def test_scheduler_jobs_call_with_an_oidc_token_of_the_scheduler_account_which_may_invoke() -> None:
    job = terraform_resource("scheduler.tf", "google_cloud_scheduler_job", "job")
    assert job["for_each"] == "${local.schedules}"
    (target,) = job["http_target"]
    assert target["http_method"] == "POST"
    assert target["uri"] == '${local.run_url[each.key]}${lookup(local.schedule_paths, each.key, "")}'
    (oidc,) = target["oidc_token"]
    assert oidc == {
        "service_account_email": "${google_service_account.scheduler.email}",
        "audience": "${local.run_url[each.key]}",
    }
    invoker = terraform_resource("functions.tf", "google_cloud_run_service_iam_member", "scheduler")
    assert invoker["for_each"] == "${local.schedules}"
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "serviceAccount:${google_service_account.scheduler.email}"


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [("* * * * *", 60), ("*/15 * * * *", 900), ("7 * * * *", 3600), ("17 3 * * *", 86400)],
)
def test_cron_periods(cron: str, seconds: int) -> None:
    assert cron_period_seconds(cron) == seconds


def test_an_unsupported_cron_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported cron"):
        cron_period_seconds("0 9 * * 1")


def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed (https://developer.hashicorp.com/terraform/install)")
    return binary


def test_terraform_fmt_is_clean() -> None:
    done = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_terraform_validate(tmp_path: Path) -> None:
    """Needs the google provider: an initialised infra/ (`terraform -chdir=infra init`), or a
    provider mirror in TF_PLUGIN_DIR. Without either it is skipped, saying so."""
    binary = terraform_binary()
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", "/nonexistent"))
    initialised = INFRA / ".terraform" / "providers" / "registry.terraform.io" / "hashicorp" / "google"
    if initialised.is_dir():
        workdir = INFRA
    elif (plugin_dir / "registry.terraform.io" / "hashicorp" / "google").is_dir():
        workdir = tmp_path / "infra"
        shutil.copytree(INFRA, workdir, ignore=shutil.ignore_patterns(".terraform", "dist", "*.tfstate*"))
        init = subprocess.run(
            [binary, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={plugin_dir}"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert init.returncode == 0, init.stdout + init.stderr
    else:
        pytest.skip(
            "terraform validate needs the hashicorp/google provider: run `terraform -chdir=infra init "
            "-backend=false` once (downloads it), or point TF_PLUGIN_DIR at a provider mirror"
        )
    done = subprocess.run([binary, "validate", "-no-color"], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
