"""`make run`'s studio server in process: config, dev sign-in, and the PostgREST stand-in under the database's RLS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sociallab.config import get_settings
from sociallab.db import Database
from sociallab.dev.seed import DEMO_EMAIL, DEMO_USER_ID, DEMO_WORKSPACE_ID, seed_demo
from sociallab.dev.studio import RestError, select_statement, studio_app

pytestmark = pytest.mark.integration

SECRET = "test-hs256-secret-that-is-long-enough"


@pytest.fixture
async def studio(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("JWT_ISSUER", "sociallab-dev")
    await seed_demo(db)
    async with db.transaction() as tx:  # a workspace the demo user is not in
        await tx.execute("INSERT INTO workspaces (id, name) VALUES (%(id)s, 'Other Club')", {"id": str(uuid.uuid4())})
    (tmp_path / "index.html").write_text("<!doctype html><title>studio</title>")
    app = studio_app(get_settings(), api_base="http://127.0.0.1:9", web_dir=tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://studio") as client:
        yield client


async def sign_in(studio: httpx.AsyncClient) -> dict[str, str]:
    answer = await studio.post("/dev/auth/sign-in", json={"email": DEMO_EMAIL.upper()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == {"id": DEMO_USER_ID, "email": DEMO_EMAIL}
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_config_points_at_the_api_and_the_dev_sign_in(studio: httpx.AsyncClient) -> None:
    config = (await studio.get("/config.json")).json()
    assert config == {
        "apiBase": "http://127.0.0.1:9",
        "supabaseUrl": "http://studio/dev/supabase",
        "supabaseAnonKey": "dev-anon-key",
        "devSignIn": True,
    }
    assert (await studio.get("/")).text.startswith("<!doctype html>")
    assert (await studio.post("/dev/auth/sign-in", json={"email": "nobody@club.test"})).status_code == 401
    assert (await studio.post("/dev/auth/sign-in", content=b"not json")).status_code == 401


async def test_rows_are_read_as_the_signed_in_user_under_rls(studio: httpx.AsyncClient) -> None:
    user = await sign_in(studio)
    rows = await studio.get("/dev/supabase/rest/v1/workspaces", params={"select": "id,name,timezone"}, headers=user)
    assert rows.status_code == 200
    assert rows.json() == [{"id": DEMO_WORKSPACE_ID, "name": "Demo FC", "timezone": "Europe/Amsterdam"}]

    matches = await studio.get(
        "/dev/supabase/rest/v1/matches",
        params={"select": "opponent,kickoff_at", "workspace_id": f"eq.{DEMO_WORKSPACE_ID}", "order": "kickoff_at.desc"},
        headers=user,
    )
    opponents = [m["opponent"] for m in matches.json()]
    assert opponents == ["Rivertown United", "Harbour City"]  # the upcoming match first
    assert "T" in matches.json()[0]["kickoff_at"]  # ISO 8601, as PostgREST writes it

    # Column grants hold: the token's ciphertext is not readable by users, as in Supabase.
    secret = await studio.get(
        "/dev/supabase/rest/v1/instagram_accounts", params={"select": "id,token_ciphertext"}, headers=user
    )
    assert secret.status_code == 400 and "permission denied" in secret.json()["message"]


async def test_the_rest_stand_in_refuses_what_it_does_not_support(studio: httpx.AsyncClient) -> None:
    assert (await studio.get("/dev/supabase/rest/v1/workspaces")).status_code == 401
    user = await sign_in(studio)
    for table, params in (
        ("oauth_states", {"select": "id"}),
        ("workspaces", {"select": "id;drop"}),
        ("workspaces", {"name": "like.*FC*"}),
    ):
        answer = await studio.get(f"/dev/supabase/rest/v1/{table}", params=params, headers=user)
        assert answer.status_code == 400, (table, params, answer.text)


def test_select_statement_subset() -> None:
    _, values = select_statement("matches", [("id", "in.(a,b)"), ("limit", "5"), ("order", "kickoff_at.asc")])
    assert values == {"p0": ["a", "b"]}
    with pytest.raises(RestError):
        select_statement("posts", [])
