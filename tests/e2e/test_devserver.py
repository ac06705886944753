"""`make run` as a user meets it: over real HTTP, in its own process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import DevServer, start_devserver, wait_healthy

pytestmark = pytest.mark.e2e

DEMO_WORKSPACE = "00000000-0000-4000-8000-000000000002"


def demo_token(server: DevServer) -> str:
    server.wait_for_line("bearer token")
    return server.next_line().strip()


def test_serves_health_openapi_preview_and_functions(devserver: DevServer) -> None:
    token = demo_token(devserver)
    base = devserver.base_url
    assert httpx.get(f"{base}/healthz").json()["migrations"] == "current"
    document = httpx.get(f"{base}/openapi.json").json()
    assert "/echo/" in document["paths"]
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and "SocialLab" in page.text and "echo" in page.text

    # the printed demo token works as the owner of the demo workspace
    response = httpx.post(
        f"{base}/echo/",
        json={"workspace_id": DEMO_WORKSPACE, "text": "hi"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "owner"


def test_bad_input_over_http_never_500s(devserver: DevServer) -> None:
    token = demo_token(devserver)
    base = devserver.base_url
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    cases = [
        (b"{not json", 400),
        (json.dumps({"workspace_id": DEMO_WORKSPACE, "text": ["x"]}).encode(), 422),
        (json.dumps({"workspace_id": DEMO_WORKSPACE, "text": "x" * 2_000_000}).encode(), 413),
    ]
    for body, status in cases:
        response = httpx.post(f"{base}/echo/", content=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["error"]["request_id"]
    forged = httpx.post(f"{base}/echo/", json={}, headers={"Authorization": "Bearer " + token[:-4] + "AAAA"})
    assert forged.status_code == 401
    assert httpx.get(f"{base}/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{base}/echo/boom").status_code == 500


def test_logs_are_json_lines_without_secrets(devserver: DevServer) -> None:
    token = demo_token(devserver)
    httpx.get(
        f"{devserver.base_url}/echo/items/00000000-0000-4000-8000-000000000009",
        headers={"Authorization": f"Bearer {token}"},
    )
    devserver.stop()
    devserver.output.extend(devserver._lines.queue)
    logged = [json.loads(line) for line in devserver.output if line.startswith("{")]
    requests = [entry for entry in logged if entry.get("message") == "request"]
    assert requests and all("severity" in entry for entry in logged)
    assert {"request_id", "function", "status", "latency_ms"} <= set(requests[-1])
    assert all(token not in line for line in devserver.output if line.startswith("{"))


def test_embedded_database_first_and_second_run(tmp_path: Path) -> None:
    """No DATABASE_URL: an embedded PostgreSQL under the data dir, reused by the next run."""
    data = tmp_path / "data"
    started = time.monotonic()
    first = start_devserver(data, {}, "--no-cron")
    try:
        health = wait_healthy(first)
        first_start = time.monotonic() - started
        assert health.json() == {"status": "ok", "database": "ok", "migrations": "current"}
        assert httpx.get(f"{first.base_url}/openapi.json").status_code == 200
    finally:
        assert first.stop() == 0  # Ctrl-C stops cleanly
    assert (data / "pg").is_dir() and (data / "dev-secrets.json").exists()
    secrets_before = (data / "dev-secrets.json").read_text()

    second = start_devserver(data, {}, "--no-cron")
    try:
        wait_healthy(second)
        token = demo_token(second)
        response = httpx.get(f"{second.base_url}/healthz")
        assert response.status_code == 200
    finally:
        assert second.stop() == 0
    assert (data / "dev-secrets.json").read_text() == secrets_before
    assert token and first_start < 60
