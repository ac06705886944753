"""A changed Drive file is a new asset version: what a post was approved with is what it publishes.

The `drive-sync`, `posts` and `assets` functions run in process against the Drive and Instagram
sandboxes over real HTTP, a real database and local storage; the publisher publishes what is due.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import LiteralString
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from sociallab.config import get_settings, reset_settings
from sociallab.db import Database, Row
from sociallab.dev.loader import load_function
from sociallab.errors import UnprocessableError
from sociallab.storage import get_storage
from sociallab.storage.local import local_storage_app
from tests.fixtures import images
from tests.integration import factories
from tests.plugins.drive import DriveServer
from tests.plugins.publisher import Account, PublishWorld

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "drive-versions-hs256-secret-long-enough"
SCHEDULER = {"Authorization": "Bearer drive-versions-scheduler-secret"}
RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)


def auth(user: Row) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user["id"]), "aud": "authenticated", "role": "authenticated", "exp": now + 600, "iat": now}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@dataclass
class World:
    publish: PublishWorld
    drive: DriveServer
    apps: dict[str, httpx.AsyncClient]
    owner: Row
    editor: Row
    account: Account

    @property
    def db(self) -> Database:
        return self.publish.db

    @property
    def ws(self) -> str:
        return self.publish.workspace_id

    async def connect(self, folder_id: str) -> str:
        drive = self.apps["drive-sync"]
        body = {"workspace_id": self.ws, "folder_id": folder_id}
        pending = (await drive.post("/sources", json=body, headers=auth(self.editor))).json()
        name = pending["verification"]["file_name"]
        self.drive.sandbox.add_file(name, b"", parents=[folder_id], mime_type="text/plain")
        response = await drive.post(f"/sources/{pending['id']}/verify", headers=auth(self.editor))
        assert response.status_code == 200, response.text
        return str(pending["id"])

    async def sync(self) -> dict[str, int]:
        response = await self.apps["drive-sync"].post("/", json={}, headers=SCHEDULER)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def versions(self) -> list[Row]:
        """Every ready asset of the workspace, oldest first."""
        return await self.db.fetch_all(
            "SELECT * FROM media_assets WHERE workspace_id = %(ws)s AND status = 'ready' ORDER BY created_at, id",
            {"ws": self.ws},
        )

    async def listed(self) -> list[str]:
        response = await self.apps["assets"].get("/", params={"workspace_id": self.ws}, headers=auth(self.editor))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    async def approved_post(self, asset_id: str) -> str:
        """A post an editor made from the photo and the owner approved: scheduled an hour ahead."""
        body = {
            "workspace_id": self.ws,
            "instagram_account_id": self.account.id,
            "media_type": "IMAGE",
            "caption": "Full time!",
            "asset_ids": [asset_id],
            "scheduled_at": (self.publish.clock.now + timedelta(hours=1)).isoformat(),
        }
        posts = self.apps["posts"]
        created = await posts.post("/", json=body, headers=auth(self.editor))
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending_approval"
        post_id = created.json()["id"]
        approved = await posts.post(f"/{post_id}/approve", json={}, headers=auth(self.owner))
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "scheduled"
        return str(post_id)


@pytest.fixture
async def world(
    publish_world: PublishWorld, drive_env: DriveServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("SCHEDULER_SECRET", SCHEDULER["Authorization"].removeprefix("Bearer "))
    reset_settings()
    async with publish_world.db.transaction() as tx:
        owner = await factories.create_member(tx, publish_world.workspace_id, "owner")
        editor = await factories.create_member(tx, publish_world.workspace_id, "editor")
        await tx.execute(
            "UPDATE workspaces SET require_approval = true WHERE id = %(ws)s", {"ws": publish_world.workspace_id}
        )
    account = await publish_world.add_account()
    apps = {}
    for name in ("drive-sync", "posts", "assets"):
        app = load_function(ROOT / "functions" / name / "main.py").app
        apps[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield World(publish_world, drive_env, apps, owner, editor, account)
    for client in apps.values():
        await client.aclose()


async def fetch_published_image(url: str) -> bytes:
    """What Meta would download from the image URL the publisher gave it (a signed local storage URL)."""
    app = Starlette(routes=[Mount("/storage", app=local_storage_app(get_settings()))])
    parts = urlsplit(url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://storage") as client:
        response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    return response.content


async def test_an_approved_post_publishes_the_approved_bytes_after_the_drive_file_changes(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("Match photos")
    file_id = sandbox.add_file("goal.jpg", images.jpeg((1080, 1080), left=RED, right=BLUE), parents=[folder])
    await world.connect(folder)
    assert (await world.sync())["imported"] == 1
    [v1] = await world.versions()
    async with world.db.transaction() as tx:
        match = await factories.create_match(tx, world.ws)
    await world.db.execute(
        "UPDATE media_assets SET tags = '{goal}', match_id = %(m)s WHERE id = %(id)s",
        {"m": match["id"], "id": v1["id"]},
    )
    [v1] = await world.versions()
    post_id = await world.approved_post(str(v1["id"]))
    storage = get_storage()
    approved = {path: await storage.get(v1[path]) for path in ("normalized_path", "original_path", "rendition_path")}

    sandbox.update_file(file_id, data=images.jpeg((1080, 1080), left=GREEN, right=GREEN))
    assert (await world.sync())["imported"] == 1
    assert {path: await storage.get(v1[path]) for path in approved} == approved  # nothing overwritten

    old, new = await world.versions()
    for column in ("id", "md5", "normalized_path", "original_path", "width", "height", "tags", "match_id"):
        assert old[column] == v1[column], column
    assert old["superseded_at"] is not None and new["superseded_at"] is None
    assert new["normalized_path"] not in (old["normalized_path"], old["original_path"])
    assert (new["drive_file_id"], new["tags"], new["match_id"]) == (old["drive_file_id"], ["goal"], match["id"])
    assert await world.listed() == [str(new["id"])]  # the library shows the current version only

    refused = await world.apps["assets"].delete(f"/{old['id']}", headers=auth(world.editor))
    assert refused.status_code == 409, refused.text

    world.publish.clock.advance(2 * 3600)
    result = await world.publish.run()
    assert result.published == 1
    [media] = world.publish.sandbox.published_media()
    assert await fetch_published_image(media["image_urls"][0]) == approved["rendition_path"]
    assert (await world.publish.post(post_id))["status"] == "published"


async def test_old_versions_go_once_nothing_uses_them(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("Match photos")
    file_id = sandbox.add_file("goal.jpg", images.jpeg((1080, 1080), left=RED), parents=[folder])
    await world.connect(folder)
    await world.sync()
    [v1] = await world.versions()
    post_id = await world.approved_post(str(v1["id"]))

    sandbox.update_file(file_id, data=images.jpeg((1080, 1080), left=GREEN))
    await world.sync()
    _, v2 = await world.versions()
    sandbox.update_file(file_id, data=images.jpeg((1080, 1080), left=BLUE))
    await world.sync()
    storage = get_storage()
    kept, v3 = await world.versions()
    assert kept["id"] == v1["id"]  # a post uses it
    assert v2["id"] not in {kept["id"], v3["id"]}  # nothing used it: row and objects are gone
    assert not await storage.exists(v2["normalized_path"]) and not await storage.exists(v2["original_path"])

    # the workspace logo is a use too
    await world.db.execute(
        "UPDATE workspaces SET logo_asset_id = %(id)s WHERE id = %(ws)s", {"id": v3["id"], "ws": world.ws}
    )
    sandbox.update_file(file_id, data=images.jpeg((1080, 1080), left=GREEN, right=RED))
    await world.sync()
    assert [r["id"] for r in await world.versions()][:2] == [v1["id"], v3["id"]]

    # once its post is gone (and the logo changed), an old version goes with the next sync
    cancelled = await world.apps["posts"].post(f"/{post_id}/cancel", headers=auth(world.editor))
    assert cancelled.status_code == 200, cancelled.text
    await world.db.execute("DELETE FROM posts WHERE id = %(id)s", {"id": post_id})
    await world.db.execute("UPDATE workspaces SET logo_asset_id = NULL WHERE id = %(ws)s", {"ws": world.ws})
    await world.sync()
    [current] = await world.versions()
    assert current["id"] not in {v1["id"], v3["id"]} and current["superseded_at"] is None
    assert not await storage.exists(v1["normalized_path"]) and not await storage.exists(v3["original_path"])
    assert await storage.exists(current["normalized_path"])


async def test_a_changed_file_that_fails_is_recorded_and_not_downloaded_again(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("Match photos")
    file_id = sandbox.add_file("goal.jpg", images.jpeg((800, 800)), parents=[folder])
    await world.connect(folder)
    await world.sync()
    [good] = await world.versions()

    def downloads() -> int:
        return len([c for c in sandbox.requests if c[1].endswith(file_id) and c[2].get("alt") == "media"])

    sandbox.update_file(file_id, data=images.truncated_jpeg())
    assert await world.sync() == {"imported": 0, "skipped": 0, "failed": 1, "sources": 1}
    rows = await world.db.fetch_all(
        "SELECT id, status, error_transient, superseded_at FROM media_assets WHERE drive_file_id = %(f)s"
        " ORDER BY status DESC",
        {"f": file_id},
    )
    assert [(r["status"], r["error_transient"]) for r in rows] == [("ready", False), ("failed", False)]
    assert rows[0]["id"] == good["id"] and rows[0]["superseded_at"] is None  # the last good version stays

    before = downloads()
    sandbox.update_file(file_id)  # a change that is not the content (e.g. a rename)
    assert await world.sync() == {"imported": 0, "skipped": 1, "failed": 0, "sources": 1}
    assert downloads() == before

    sandbox.update_file(file_id, data=images.jpeg((900, 800)))  # fixed: a new version, the failure settled
    assert (await world.sync())["imported"] == 1
    statuses = await world.db.fetch_all(
        "SELECT status, width FROM media_assets WHERE drive_file_id = %(f)s ORDER BY created_at", {"f": file_id}
    )
    assert [(r["status"], r["width"]) for r in statuses] == [("ready", 900)]


CONTENT_CHANGES: list[LiteralString] = [
    "UPDATE media_assets SET normalized_path = 'elsewhere.jpg' WHERE id = %(id)s",
    "UPDATE media_assets SET original_path = 'elsewhere.png' WHERE id = %(id)s",
    "UPDATE media_assets SET md5 = repeat('a', 32), width = 1 WHERE id = %(id)s",
    "UPDATE media_assets SET status = 'failed' WHERE id = %(id)s",
]


async def test_the_content_of_a_ready_asset_cannot_be_updated(db: Database) -> None:
    async with db.transaction() as tx:
        workspace = await factories.create_workspace(tx)
        asset = await factories.create_asset(tx, workspace["id"])
    for statement in CONTENT_CHANGES:
        with pytest.raises(UnprocessableError) as refused:
            await db.execute(statement, {"id": asset["id"]})
        assert refused.value.constraint == "media_assets_content_immutable"
    assert await db.execute("UPDATE media_assets SET tags = '{x}' WHERE id = %(id)s", {"id": asset["id"]}) == 1
