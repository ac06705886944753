"""Deeply nested JSON never reaches a recursive parser: a 400 for bodies, a 422 for stored rows (issue 9, item 3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sociallab.config import get_settings, reset_settings
from sociallab.db import Database
from sociallab.dev.loader import load_function
from sociallab.dev.server import build_app
from sociallab.jsonlimits import MAX_JSON_DEPTH
from tests.integration import factories
from tests.plugins.posts import PostsWorld

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "depth-test-webhook-secret"

DEEP_BODIES = {
    "arrays, 200 KB": b"[" * 200_000,
    "objects, 30,000 levels": b'{"a":' * 30_000 + b"1" + b"}" * 30_000,
}


@pytest.fixture
async def client(posts_world: PostsWorld, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    reset_settings()
    functions = [load_function(ROOT / "functions" / name / "main.py") for name in ("posts", "generate-content")]
    app = build_app(functions, settings=get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:500]
    error = response.json()["error"]
    assert (error["code"], error["request_id"]) == (code, response.headers["x-request-id"])


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
@pytest.mark.parametrize("path", ["/posts/", "/generate-content/"])
async def test_a_deeply_nested_body_is_a_400(
    client: httpx.AsyncClient, posts_world: PostsWorld, path: str, body: bytes
) -> None:
    headers = {**posts_world.headers("editor"), "content-type": "application/json"}
    response = await client.post(path, content=body, headers=headers)
    assert_envelope(response, 400, "bad_request")
    assert str(MAX_JSON_DEPTH) in response.json()["error"]["message"]


async def test_the_webhook_refuses_a_deep_body_too(client: httpx.AsyncClient) -> None:
    headers = {"X-Webhook-Secret": WEBHOOK_SECRET, "content-type": "application/json"}
    response = await client.post("/generate-content/webhook", content=DEEP_BODIES["arrays, 200 KB"], headers=headers)
    assert_envelope(response, 400, "bad_request")


async def test_nesting_up_to_the_limit_is_read_and_validated(
    client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    nested: object = "deep"
    for _ in range(MAX_JSON_DEPTH - 2):  # the body object and `data` are two levels
        nested = [nested]
    body = {"workspace_id": posts_world.ws, "content_type": "nope", "data": {"x": nested}}
    response = await client.post("/generate-content/", json=body, headers=posts_world.headers("editor"))
    assert response.status_code == 422, response.text  # parsed and validated: no template for "nope"


async def test_a_number_too_long_to_convert_is_a_400(client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    body = b'{"workspace_id": "' + posts_world.ws.encode() + b'", "caption": ' + b"1" * 5000 + b"}"
    headers = {**posts_world.headers("editor"), "content-type": "application/json"}
    assert_envelope(await client.post("/posts/", content=body, headers=headers), 400, "bad_request")


async def test_deep_json_an_editor_stored_through_supabase_is_a_422_not_a_500(
    client: httpx.AsyncClient, posts_world: PostsWorld, db: Database
) -> None:
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000  # Postgres keeps it; Python's parser would recurse out
    async with db.transaction() as tx:
        await tx.act_as_user(str(posts_world.editor["id"]))  # as the frontend writes it, under RLS
        match_id = await tx.fetch_val(
            """INSERT INTO public.matches (workspace_id, opponent, kickoff_at, data)
               VALUES (%(w)s, 'Rivertown', now(), %(data)s::jsonb) RETURNING id""",
            {"w": posts_world.ws, "data": deep},
        )
    body = {"workspace_id": posts_world.ws, "content_type": "matchday", "match_id": str(match_id)}
    response = await client.post("/generate-content/", json=body, headers=posts_world.headers("editor"))
    assert_envelope(response, 422, "unprocessable")
    # a row nested within the limit still reads
    async with db.transaction() as tx:
        shallow = await factories.create_match(tx, posts_world.ws, data=json.loads('{"a":' * 10 + "1" + "}" * 10))
    row = await db.fetch_one("SELECT data FROM matches WHERE id = %(id)s", {"id": shallow["id"]})
    assert row is not None and "a" in row["data"]
