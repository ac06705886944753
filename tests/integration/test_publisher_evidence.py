"""Never throw away the evidence of a publish: before an edit drops a failed post's media container, Instagram
is asked whether it went out (the posts function over ASGI, the Instagram sandbox over HTTP)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sociallab.config import reset_settings
from sociallab.dev.loader import load_function
from sociallab.publishing import PublishHooks, Step
from sociallab.publishing.store import ClaimedPost
from tests.integration import factories
from tests.plugins.publisher import PublishWorld

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "evidence-test-hs256-secret-long-enough-for-it"


class Killed(BaseException):
    """The run died right after Instagram answered the publish."""


class DieAfterPublish(PublishHooks):
    async def at(self, step: Step, post: ClaimedPost) -> None:
        if step == "published":
            raise Killed()


@pytest.fixture
async def editor(publish_world: PublishWorld, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    reset_settings()
    async with publish_world.db.transaction() as tx:
        member = await factories.create_member(tx, publish_world.workspace_id, "editor")
    now = int(time.time())
    claims = {"sub": str(member["id"]), "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.fixture
async def posts_api(publish_world: PublishWorld, editor: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    function = load_function(ROOT / "functions" / "posts" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://posts") as client:
        yield client


async def failed_with_a_container(world: PublishWorld, *, went_out: bool) -> dict[str, Any]:
    """A post whose container exists at Instagram and whose attempts then ran out. `went_out`: its publish
    reached Instagram but the run died before recording it."""
    account = await world.add_account()
    post_id = await world.add_post(account, caption="did it go out?")
    if went_out:
        with pytest.raises(Killed):
            await world.run(hooks=DieAfterPublish())
    else:
        world.sandbox.faults.add(kind="publish", code=100, http_status=400, is_transient=False)
        await world.run()
        world.sandbox.faults.clear()
    await world.db.execute(
        "UPDATE posts SET status = 'failed', failure_reason = 'attempts_exhausted', lease_owner = NULL,"
        " lease_expires_at = NULL WHERE id = %(id)s AND status <> 'failed'",
        {"id": post_id},
    )
    post = await world.post(post_id)
    assert post["status"] == "failed" and post["container_id"]
    return post


async def test_an_edit_of_a_failed_post_whose_container_went_out_records_it_instead(
    publish_world: PublishWorld, posts_api: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    world = publish_world
    post = await failed_with_a_container(world, went_out=True)

    edited = await posts_api.patch(f"/{post['id']}", json={"caption": "a fresh caption"}, headers=editor)

    assert edited.status_code == 409, edited.text
    assert edited.json()["error"]["code"] == "already_published"
    row = await world.post(str(post["id"]))
    assert (row["status"], row["caption"], row["container_id"]) == ("published", "did it go out?", post["container_id"])
    assert world.sandbox.publish_count(post["container_id"]) == 1
    # The next publish-due run finds the media it became; nothing is published again.
    await world.run()
    row = await world.post(str(post["id"]))
    [media] = world.sandbox.published_media()
    assert (row["ig_media_id"], row["permalink"]) == (media["id"], media["permalink"])
    assert world.sandbox.calls["publish"] == 1


async def test_an_edit_of_a_failed_post_whose_container_never_went_out_goes_ahead(
    publish_world: PublishWorld, posts_api: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    world = publish_world
    post = await failed_with_a_container(world, went_out=False)

    edited = await posts_api.patch(f"/{post['id']}", json={"caption": "a fresh caption"}, headers=editor)

    assert edited.status_code == 200, edited.text
    row = await world.post(str(post["id"]))
    assert (row["status"], row["caption"], row["container_id"]) == ("failed", "a fresh caption", None)
    [edit] = [e for e in await world.events(str(post["id"])) if e["kind"] == "edited"]
    assert edit["detail"]["dropped_container_id"] == post["container_id"]
    retried = await posts_api.post(f"/{post['id']}/retry", json={}, headers=editor)
    assert retried.status_code == 200 and retried.json()["status"] == "scheduled"
    await world.run()
    row = await world.post(str(post["id"]))
    assert row["status"] == "published" and row["container_id"] != post["container_id"]
    assert [m["caption"] for m in world.sandbox.published_media()] == ["a fresh caption"]


async def test_when_instagram_cannot_say_the_edit_waits_and_keeps_the_container(
    publish_world: PublishWorld, posts_api: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    world = publish_world
    post = await failed_with_a_container(world, went_out=True)
    world.sandbox.faults.add(kind="status", code=2, http_status=503, count=10)

    edited = await posts_api.patch(f"/{post['id']}", json={"caption": "a fresh caption"}, headers=editor)

    assert edited.status_code == 503 and edited.json()["error"]["code"] == "dependency_unavailable"
    row = await world.post(str(post["id"]))
    assert (row["status"], row["container_id"]) == ("failed", post["container_id"])
    # A change of time alone keeps the container and needs no answer from Instagram.
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    moved = await posts_api.patch(f"/{post['id']}", json={"scheduled_at": later}, headers=editor)
    assert moved.status_code == 200, moved.text
