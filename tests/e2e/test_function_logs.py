"""Every function logs JSON lines when started the way Cloud Run starts it (issue 7.3).

Each `functions/<name>/main.py` runs under the real `functions-framework --target <name> --source ...`
command with the environment Terraform gives it (LOG_EXECUTION_ID, LOG_LEVEL, GOOGLE_CLOUD_PROJECT,
the secrets) and the test database. It answers a request that succeeds (`/healthz`), ones that fail
(405, 404 on a path naming a secret) and, once its database is gone, a 503. Every line it writes on
stdout or stderr is a JSON object with `severity`, `message` and `function`; the lines of a request
carry its request id and Cloud Logging's trace field; no configured secret value shows anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e

FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))
PROJECT = "sociallab-test-project"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# Values the generic token patterns would not catch: only registering the settings' secrets hides them.
SECRETS = {
    "SUPABASE_JWT_SECRET": "plainjwtsecretvalue0001",
    "WEBHOOK_SECRET": "plainwebhookvalue0002",
    "URL_SIGNING_KEY": "plainsigningvalue0003",
    "INSTAGRAM_APP_SECRET": "plainappsecretvalue0004",
    "GEMINI_API_KEY": "plaingeminivalue0005",
    "SUPABASE_SERVICE_ROLE_KEY": "plainservicerolevalue0006",
}


def terraform_environment(name: str, database_url: str) -> dict[str, str]:
    """What infra/functions.tf sets for `name` (common_env, the pool size, the secrets), nothing else."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "SUPABASE_URL": "http://127.0.0.1:9",
        "STORAGE_BACKEND": "supabase",
        "STORAGE_BUCKET": "media",
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "INSTAGRAM_APP_ID": "1234567890",
        "INSTAGRAM_REDIRECT_URI": "http://127.0.0.1:9/instagram-auth/callback",
        "INSTAGRAM_API_VERSION": "v25.0",
        "GEMINI_MODEL": "gemini-2.5-flash",
        "PUBLISHING_ENABLED": "true",
        "LOG_LEVEL": "INFO",
        "SECRETS_ROLLOUT": "1",
        "LOG_EXECUTION_ID": "true",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DB_POOL_MAX_SIZE": "2",
        "DATABASE_URL": database_url,
        **SECRETS,
    }


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)  # polling a port that is not open yet; nothing to wait on instead
    raise AssertionError(f"the function did not listen on {port} (exit code {process.poll()})")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_started_as_cloud_run_starts_it_logs_json_lines(
    name: str, database_url: str, pg_admin_url: str, tmp_path: Path
) -> None:
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target",
        name.replace("-", "_"),
        "--source",
        str(ROOT / "functions" / name / "main.py"),
        "--port",
        str(port),
    ]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=terraform_environment(name, database_url), stdout=stdout, stderr=stderr
        )
        try:
            wait_for_port(port, process)
            base = f"http://127.0.0.1:{port}"

            def get(method: str, path: str, request_id: str) -> int:
                headers = {"X-Request-Id": request_id, "X-Cloud-Trace-Context": f"{TRACE_ID}/17;o=1"}
                return httpx.request(method, base + path, headers=headers, timeout=30).status_code

            assert get("GET", "/healthz", "req-ok") == 200
            assert get("POST", "/healthz", "req-405") == 405
            assert get("GET", "/" + SECRETS["WEBHOOK_SECRET"], "req-404") == 404
            with psycopg.connect(pg_admin_url, autocommit=True) as admin:  # the database goes away
                dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
                admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')  # a generated name, not input
            assert get("GET", "/healthz", "req-503") == 503
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)

    lines = [line for text in (out.read_text(), err.read_text()) for line in text.splitlines() if line.strip()]
    entries = []
    for line in lines:
        entry = json.loads(line)  # every line is JSON
        assert {"severity", "message"} <= entry.keys(), line
        assert entry.get("function") == name, line
        entries.append(entry)
    by_request = {e["request_id"]: e for e in entries if e.get("message") == "request"}
    assert {rid: by_request[rid]["status"] for rid in ("req-ok", "req-405", "req-404", "req-503")} == {
        "req-ok": 200,
        "req-405": 405,
        "req-404": 404,
        "req-503": 503,
    }
    failed = [e for e in entries if e.get("request_id") == "req-503" and e["severity"] == "ERROR"]
    assert failed and failed[0]["message"] == "request failed" and failed[0]["error"] == "dependency_unavailable"
    for entry in entries:
        if str(entry.get("request_id", "")).startswith("req-"):
            assert entry["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{TRACE_ID}"
    everything = "\n".join(lines)
    for secret in SECRETS.values():
        assert secret not in everything
