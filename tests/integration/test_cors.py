"""CORS as a browser meets it: preflights before auth, exact origins, nothing for scheduler or webhook routes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sociallab.config import get_settings
from sociallab.dev.loader import load_functions
from sociallab.dev.server import build_app
from tests.integration.test_http_toolkit import auth

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STUDIO = "http://127.0.0.1:9000"
OTHER = "http://127.0.0.1:9001"
SECRET = "test-hs256-secret-that-is-long-enough"


@pytest.fixture
async def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("SCHEDULER_SECRET", "scheduler-secret")
    monkeypatch.setenv("WEBHOOK_SECRET", "webhook-secret")
    monkeypatch.setenv("URL_SIGNING_KEY", "url-signing-key")
    monkeypatch.setenv("FRONTEND_ORIGINS", f"https://studio.club.example, {STUDIO}")
    functions = load_functions([ROOT / "functions"])
    app = build_app(functions, settings=get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        yield c


def preflight(origin: str, method: str = "GET", headers: str = "authorization") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_a_preflight_from_an_allowed_origin_is_answered_before_authentication(client: httpx.AsyncClient) -> None:
    answer = await client.options("/posts/", headers=preflight(STUDIO))  # no Authorization: browsers never send it

    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] == STUDIO
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD", "POST"}
    assert {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")} == {
        "authorization",
        "content-type",
    }
    assert answer.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in answer.headers
    patch = await client.options(f"/posts/{uuid.uuid4()}/approve", headers=preflight(STUDIO, "POST", "content-type"))
    assert patch.status_code == 204 and patch.headers["access-control-allow-methods"] == "POST"


async def test_answers_to_an_allowed_origin_expose_the_request_id_and_retry_after(client: httpx.AsyncClient) -> None:
    refused = await client.get("/posts/", params={"workspace_id": str(uuid.uuid4())}, headers={"Origin": STUDIO})
    assert refused.status_code == 401  # the error envelope is readable by the page too
    assert refused.headers["access-control-allow-origin"] == STUDIO
    assert set(refused.headers["access-control-expose-headers"].split(", ")) == {"Retry-After", "X-Request-Id"}
    assert refused.headers["vary"] == "Origin"

    user = {"Origin": STUDIO, **auth(str(uuid.uuid4()))}
    forbidden = await client.get("/assets/", params={"workspace_id": str(uuid.uuid4())}, headers=user)
    assert forbidden.status_code == 403 and forbidden.headers["access-control-allow-origin"] == STUDIO


async def test_an_origin_not_listed_gets_no_cors_headers(client: httpx.AsyncClient) -> None:
    for origin in (OTHER, "https://studio.club.example.evil.test", "null", "http://127.0.0.1:9000.evil.test"):
        answer = await client.options("/posts/", headers=preflight(origin))
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "forbidden"
        assert not [h for h in answer.headers if h.startswith("access-control-")]
        assert answer.headers["vary"] == "Origin"
        actual = await client.get("/posts/", params={"workspace_id": str(uuid.uuid4())}, headers={"Origin": origin})
        assert not [h for h in actual.headers if h.startswith("access-control-")]


async def test_scheduler_and_webhook_routes_send_no_cors_headers(client: httpx.AsyncClient) -> None:
    for path, method in (("/publish-due/", "POST"), ("/generate-content/webhook", "POST"), ("/housekeeping/", "POST")):
        answer = await client.options(path, headers=preflight(STUDIO, method))
        assert answer.status_code == 405, (path, answer.text)
        assert not [h for h in answer.headers if h.startswith("access-control-")]
        called = await client.post(path, json={}, headers={"Origin": STUDIO})
        assert called.status_code == 401, (path, called.text)
        assert not [h for h in called.headers if h.startswith("access-control-")]
        assert "vary" not in called.headers


async def test_a_plain_options_without_cors_headers_stays_a_405_with_allow(client: httpx.AsyncClient) -> None:
    answer = await client.options("/posts/")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
