"""What Instagram receives of a photo posted as it is: a rendition made once at intake to Instagram's image
specification (sRGB JPEG, 1,080 px wide, far below 8 MB), and a clear 422 at creation for what no rendition can
fix (too narrow; a feed image outside 4:5 to 1.91:1)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from sociallab.content.assets import ingest_image
from sociallab.storage import get_storage
from tests.fixtures.images import jpeg_bytes
from tests.plugins.posts import PostsWorld

pytestmark = pytest.mark.integration


async def upload(world: PostsWorld, size: tuple[int, int]) -> dict[str, Any]:
    result = await ingest_image(
        world.db, storage=get_storage(), workspace_id=world.ws, data=jpeg_bytes(size), source="upload"
    )
    return result.asset


async def test_a_large_photo_is_published_as_a_1080_px_rendition(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    asset = await upload(posts_world, (4000, 3000))  # a 12 MP phone photo
    assert (asset["rendition_width"], asset["rendition_height"]) == (1080, 810)

    created = await posts_client.post(
        "/", json=posts_world.body(asset_ids=[str(asset["id"])]), headers=posts_world.headers("editor")
    )

    assert created.status_code == 201, created.text
    [image] = created.json()["images"]
    assert (image["width"], image["height"]) == (1080, 810)
    path = await posts_world.db.fetch_val(
        "SELECT storage_path FROM post_media WHERE post_id = %(id)s", {"id": created.json()["id"]}
    )
    assert path == asset["rendition_path"] != asset["normalized_path"]
    sent = await get_storage().get(path)
    with Image.open(io.BytesIO(sent)) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (1080, 810))
        assert "icc_profile" not in im.info  # sRGB without a profile, as Instagram expects
    assert len(sent) < 8 * 1024 * 1024
    # The normalised JPEG (what graphics are composed from) keeps its detail.
    with Image.open(io.BytesIO(await get_storage().get(asset["normalized_path"]))) as im:
        assert im.size == (2560, 1920)


async def test_a_photo_no_rendition_can_fix_is_refused_at_creation_saying_which_and_why(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    good = await upload(posts_world, (1200, 1200))
    narrow = await upload(posts_world, (300, 360))
    tall = await upload(posts_world, (1000, 3000))
    editor = posts_world.headers("editor")

    small = await posts_client.post(
        "/",
        json=posts_world.body(media_type="CAROUSEL", asset_ids=[str(good["id"]), str(narrow["id"])]),
        headers=editor,
    )
    assert small.status_code == 422
    [detail] = small.json()["error"]["details"]
    assert detail["field"] == "asset_ids.1" and detail["type"] == "too_small"
    assert "Image 2 (300x360)" in detail["message"] and "320 px" in detail["message"]

    feed = await posts_client.post("/", json=posts_world.body(asset_ids=[str(tall["id"])]), headers=editor)
    assert feed.status_code == 422
    assert "post it as a story" in feed.json()["error"]["details"][0]["message"]
    story = await posts_client.post(
        "/", json=posts_world.body(media_type="STORY", asset_ids=[str(tall["id"])]), headers=editor
    )
    assert story.status_code == 201, story.text
