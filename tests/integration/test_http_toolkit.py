"""The HTTP toolkit end to end in one process: functions-framework app, router, auth, parsing,
membership, the Postgres rate limit, and the error envelope, against a real database."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sociallab.config import get_settings
from sociallab.db import Database
from sociallab.dev.loader import load_functions
from sociallab.dev.server import build_app

pytestmark = pytest.mark.integration

FIXTURE_FUNCTIONS = Path(__file__).resolve().parents[1] / "fixtures" / "functions"
SECRET = "test-hs256-secret-that-is-long-enough"


def token(user_id: str, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "aud": "authenticated", "role": "authenticated", "exp": now + 600, "iat": now}
    claims.update(overrides)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def auth(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id)}"}


@pytest.fixture
async def workspace(db: Database) -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in ("workspace", "other", "editor", "viewer", "stranger")}
    async with db.transaction() as tx:
        for user in ("editor", "viewer", "stranger"):
            await tx.execute(
                "INSERT INTO auth.users (id, email) VALUES (%(id)s, %(email)s)",
                {"id": ids[user], "email": f"{user}@club.test"},
            )
        for ws in ("workspace", "other"):
            await tx.execute("INSERT INTO workspaces (id, name) VALUES (%(id)s, %(name)s)", {"id": ids[ws], "name": ws})
        for user, role in (("editor", "editor"), ("viewer", "viewer")):
            await tx.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%(w)s, %(u)s, %(r)s)",
                {"w": ids["workspace"], "u": ids[user], "r": role},
            )
    return ids


@pytest.fixture
async def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("SCHEDULER_SECRET", "scheduler-secret")
    monkeypatch.setenv("WEBHOOK_SECRET", "webhook-secret")
    monkeypatch.setenv("URL_SIGNING_KEY", "url-signing-key")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "5")
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    app = build_app(load_functions([FIXTURE_FUNCTIONS]), settings=get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return error


async def test_an_editor_writes_and_gets_the_response_model(client: httpx.AsyncClient, workspace: dict) -> None:
    body = {"workspace_id": workspace["workspace"], "text": "goal", "count": 2}
    response = await client.post("/echo/", json=body, headers=auth(workspace["editor"]))
    assert response.status_code == 201
    assert response.json() == {"text": "goalgoal", "role": "editor", "user_id": workspace["editor"]}
    assert response.headers["x-request-id"]


async def test_the_function_url_without_a_trailing_slash_works(client: httpx.AsyncClient, workspace: dict) -> None:
    body = {"workspace_id": workspace["workspace"], "text": "x"}
    assert (await client.post("/echo", json=body, headers=auth(workspace["editor"]))).status_code == 201


async def test_roles_and_membership(client: httpx.AsyncClient, workspace: dict) -> None:
    body = {"workspace_id": workspace["workspace"], "text": "x"}
    assert_envelope(await client.post("/echo/", json=body, headers=auth(workspace["viewer"])), 403, "forbidden")
    assert_envelope(await client.post("/echo/", json=body, headers=auth(workspace["stranger"])), 403, "forbidden")
    other = {"workspace_id": workspace["other"], "text": "x"}
    assert_envelope(await client.post("/echo/", json=other, headers=auth(workspace["editor"])), 403, "forbidden")
    listed = await client.get(
        "/echo/list", params={"workspace_id": workspace["workspace"]}, headers=auth(workspace["viewer"])
    )
    assert listed.status_code == 200
    assert listed.json() == {"items": [], "limit": 20, "next_cursor": None}


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"workspace_id": ', {}, 400, "bad_request"),
        (b"\xff\xfe not utf-8", {}, 400, "bad_request"),
        (b"text=hello", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b"[1, 2]", {}, 422, "validation_failed"),
        (b'{"workspace_id": "not-a-uuid", "text": "x"}', {}, 422, "validation_failed"),
        (b'{"workspace_id": "WS", "text": 5, "count": "many"}', {}, 422, "validation_failed"),
        (b'{"workspace_id": "WS", "text": "x", "is_admin": true}', {}, 422, "validation_failed"),
        (b'{"workspace_id": "WS"}', {}, 422, "validation_failed"),
        (b"{}", {}, 422, "validation_failed"),
        (json.dumps({"workspace_id": "WS", "text": "x" * 5000}).encode(), {}, 413, "payload_too_large"),
    ],
)
async def test_bad_bodies_get_the_envelope(
    client: httpx.AsyncClient, workspace: dict, content: bytes, headers: dict, status: int, code: str
) -> None:
    content = content.replace(b"WS", workspace["workspace"].encode())
    response = await client.post(
        "/echo/", content=content, headers={"content-type": "application/json", **headers, **auth(workspace["editor"])}
    )
    error = assert_envelope(response, status, code)
    if code == "validation_failed":
        assert error["details"] and all({"field", "message"} <= set(d) for d in error["details"])
        assert "not-a-uuid" not in response.text  # inputs are not echoed back


async def test_validation_details_name_the_fields(client: httpx.AsyncClient, workspace: dict) -> None:
    body = {"workspace_id": workspace["workspace"], "text": 5, "count": 9, "extra": 1}
    error = assert_envelope(
        await client.post("/echo/", json=body, headers=auth(workspace["editor"])), 422, "validation_failed"
    )
    assert {d["field"] for d in error["details"]} == {"text", "count", "extra"}


async def test_an_oversized_streamed_body_is_refused_without_content_length(
    client: httpx.AsyncClient, workspace: dict
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 100

    response = await client.post(
        "/echo/", content=chunks(), headers={**auth(workspace["editor"]), "content-type": "application/json"}
    )
    assert_envelope(response, 413, "payload_too_large")


async def test_bad_query_parameters(client: httpx.AsyncClient, workspace: dict) -> None:
    response = await client.get(
        "/echo/list", params={"workspace_id": workspace["workspace"], "limit": 1000}, headers=auth(workspace["viewer"])
    )
    assert assert_envelope(response, 422, "validation_failed")["details"][0]["field"] == "limit"
    response = await client.get("/echo/list", headers=auth(workspace["viewer"]))
    assert_envelope(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer garbage",
        "Bearer " + token(str(uuid.uuid4()), exp=int(time.time()) - 3600),
        "Bearer "
        + jwt.encode(
            {"sub": "x", "aud": "authenticated", "exp": 2**31},
            "wrong-secret-long-enough-for-hs256!!",
            algorithm="HS256",
        ),
        "Bearer " + jwt.encode({"sub": "x", "aud": "authenticated", "exp": 2**31}, None, algorithm="none"),
    ],
)
async def test_missing_expired_and_forged_tokens_are_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/echo/items/" + str(uuid.uuid4()), headers=headers)
    assert_envelope(response, 401, "unauthenticated")


async def test_path_parameters_and_unknown_paths(client: httpx.AsyncClient, workspace: dict) -> None:
    item = str(uuid.uuid4())
    response = await client.get(f"/echo/items/{item}", headers=auth(workspace["viewer"]))
    assert response.json() == {"id": item}
    assert_envelope(await client.get("/echo/items/not-a-uuid", headers=auth(workspace["viewer"])), 404, "not_found")
    assert_envelope(await client.get("/echo/nowhere"), 404, "not_found")
    not_allowed = await client.put("/echo/tick")
    assert_envelope(not_allowed, 405, "method_not_allowed")
    assert not_allowed.headers["allow"] == "POST"
    assert (await client.post(f"/echo/items/{item}")).headers["allow"] == "DELETE, GET, HEAD"
    assert (await client.delete(f"/echo/items/{item}")).status_code == 204
    response = await client.get("/no-such-function/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_scheduler_and_webhook_routes(client: httpx.AsyncClient) -> None:
    ok = await client.post("/echo/tick", headers={"Authorization": "Bearer scheduler-secret"})
    assert ok.json() == {"ticked": True}
    assert_envelope(await client.post("/echo/tick", headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")
    hook = {"type": "UPDATE", "table": "matches", "schema": "public", "record": {"id": 1}, "old_record": None}
    # Supabase sends `schema` and `old_record` too: the model ignores what it does not need.
    response = await client.post("/echo/hook", json=hook, headers={"X-Webhook-Secret": "webhook-secret"})
    assert response.json() == {"table": "matches"}
    assert_envelope(
        await client.post("/echo/hook", json=hook, headers={"X-Webhook-Secret": "x"}), 401, "unauthenticated"
    )


async def test_an_unexpected_error_is_a_500_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/echo/boom", headers={"X-Request-Id": "trace-me-123"})
    error = assert_envelope(response, 500, "internal_error")
    assert error["request_id"] == "trace-me-123"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text


async def test_users_are_rate_limited_per_minute_in_postgres(
    client: httpx.AsyncClient, workspace: dict, db: Database
) -> None:
    headers = auth(workspace["viewer"])
    statuses = [(await client.get(f"/echo/items/{uuid.uuid4()}", headers=headers)).status_code for _ in range(6)]
    if statuses.count(200) < 5:  # the minute turned over mid-test: the counter restarted
        statuses = [(await client.get(f"/echo/items/{uuid.uuid4()}", headers=headers)).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    limited = await client.get(f"/echo/items/{uuid.uuid4()}", headers=headers)
    error = assert_envelope(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "5" in error["message"]
    # another user is not affected
    assert (await client.get(f"/echo/items/{uuid.uuid4()}", headers=auth(workspace["editor"]))).status_code == 200
    count = await db.fetch_val(
        "SELECT max(count) FROM usage_counters WHERE scope = 'http:user' AND key = %(k)s", {"k": workspace["viewer"]}
    )
    assert count == 7  # every call counts, the two refused ones too


async def test_non_members_are_rate_limited_too(client: httpx.AsyncClient, workspace: dict) -> None:
    headers = auth(workspace["stranger"])
    body = {"workspace_id": workspace["workspace"], "text": "hi"}
    statuses = [(await client.post("/echo/", json=body, headers=headers)).status_code for _ in range(5)]
    if statuses != [403] * 5:  # the minute turned over mid-test: the counter restarted
        statuses = [(await client.post("/echo/", json=body, headers=headers)).status_code for _ in range(5)]
    assert statuses == [403] * 5
    limited = await client.post("/echo/", json=body, headers=headers)
    assert_envelope(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_function_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/echo/healthz")
    assert response.json() == {"status": "ok", "function": "echo"}


async def test_devserver_healthz_and_openapi(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok", "database": "ok", "migrations": "current"}
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    create = document["paths"]["/echo/"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"workspace_id", "text", "count"}
    assert schema["additionalProperties"] is False
    # every status the router itself answers is listed: body, user, server
    assert set(create["responses"]) == {"201", "400", "401", "403", "413", "415", "422", "429", "500", "503"}
    assert create["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert "/ticker/" in document["paths"]
    item = document["paths"]["/echo/items/{item_id}"]
    assert item["get"]["parameters"] == [
        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ]
    assert set(item["get"]["responses"]) == {"200", "401", "403", "404", "429", "500", "503"}  # 404: not a UUID
    assert set(item["delete"]["responses"]) == {"200", "404", "500", "503"}  # public: no 401
    assert set(document["paths"]["/echo/tick"]["post"]["responses"]) == {"200", "401", "500", "503"}
