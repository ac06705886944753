"""Fixtures for the posts API: the `posts` function over ASGI, a workspace with one user per role,
accounts and photos whose files exist in local storage. Other areas may reuse them."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sociallab.config import reset_settings
from sociallab.db import Database, Row
from sociallab.dev.loader import load_function
from sociallab.storage import close_storage, get_storage
from tests.integration import factories

ROOT = Path(__file__).resolve().parents[2]
POSTS_JWT_SECRET = "posts-test-hs256-secret-long-enough-for-hs256"


def user_headers(user_id: Any) -> dict[str, str]:
    """Authorization for a Supabase user signed with the test secret."""
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, POSTS_JWT_SECRET, algorithm='HS256')}"}


@dataclass
class PostsWorld:
    """A workspace (Europe/Amsterdam) with an owner, editor, viewer, a stranger, one active and
    one reauth_required account, four ready photos (stored), one processing photo, and another
    workspace with its own account and photo."""

    db: Database
    workspace: Row
    owner: Row
    editor: Row
    viewer: Row
    stranger: Row
    account: Row
    dead_account: Row
    assets: list[Row]
    processing_asset: Row
    other_workspace: Row
    other_account: Row
    other_asset: Row

    @property
    def ws(self) -> str:
        return str(self.workspace["id"])

    def headers(self, who: str) -> dict[str, str]:
        return user_headers(getattr(self, who)["id"])

    def body(self, **overrides: Any) -> dict[str, Any]:
        """A valid POST / body for a single-image draft."""
        body: dict[str, Any] = {
            "workspace_id": self.ws,
            "instagram_account_id": str(self.account["id"]),
            "media_type": "IMAGE",
            "caption": "Full time! 2-1 #matchday",
            "asset_ids": [str(self.assets[0]["id"])],
        }
        return {**body, **overrides}

    async def set_approval(self, required: bool) -> None:
        await self.db.execute(
            "UPDATE workspaces SET require_approval = %(r)s WHERE id = %(id)s", {"r": required, "id": self.ws}
        )


@pytest.fixture
async def posts_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_LOCAL_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("URL_SIGNING_KEY", "posts-url-signing-key")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://files.test")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", POSTS_JWT_SECRET)
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "10000")
    reset_settings()
    await close_storage()
    yield
    await close_storage()


@pytest.fixture
async def posts_world(db: Database, posts_storage: None) -> PostsWorld:
    storage = get_storage()
    async with db.transaction() as tx:
        workspace = await factories.create_workspace(tx, timezone="Europe/Amsterdam")
        ws = workspace["id"]
        owner = await factories.create_member(tx, ws, "owner")
        editor = await factories.create_member(tx, ws, "editor")
        viewer = await factories.create_member(tx, ws, "viewer")
        stranger = await factories.create_user(tx)
        account = await factories.create_instagram_account(tx, ws, username="testfc")
        dead = await factories.create_instagram_account(
            tx, ws, username="oldfc", status="reauth_required", status_reason="token expired"
        )
        assets = [await factories.create_asset(tx, ws) for _ in range(4)]
        processing = await factories.create_asset(
            tx, ws, status="processing", normalized_path=None, width=None, height=None
        )
        other = await factories.create_workspace(tx, name="Other FC")
        other_account = await factories.create_instagram_account(tx, other["id"])
        other_asset = await factories.create_asset(tx, other["id"])
    for asset in [*assets, other_asset]:
        await storage.put(asset["normalized_path"], b"\xff\xd8jpeg", "image/jpeg")
    return PostsWorld(
        db,
        workspace,
        owner,
        editor,
        viewer,
        stranger,
        account,
        dead,
        assets,
        processing,
        other,
        other_account,
        other_asset,
    )


@pytest.fixture
async def posts_client(
    database_url: str, posts_storage: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The `posts` function as Cloud Run would serve it, over ASGI."""
    function = load_function(ROOT / "functions" / "posts" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://posts.test") as c:
        yield c


def new_id() -> str:
    return str(uuid.uuid4())
