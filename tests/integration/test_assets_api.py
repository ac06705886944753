"""The `assets` function over HTTP (its functions-framework app in process), a real database and
local storage: upload, dedupe, the hostile corpus, listing, deletion."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sociallab.config import reset_settings
from sociallab.content.decode_budget import decode_budget
from sociallab.db import Database
from sociallab.dev.loader import load_function
from sociallab.storage import close_storage, get_storage
from tests.fixtures import images
from tests.integration import factories

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-hs256-secret-that-is-long-enough"


def auth(user_id: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": "authenticated", "role": "authenticated", "exp": now + 600, "iat": now}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@dataclass
class World:
    client: httpx.AsyncClient
    db: Database
    ws: str
    editor: str
    viewer: str
    stranger: str
    other_ws: str

    async def upload(
        self, data: bytes, *, filename: str = "photo.jpg", user: str | None = None, **fields: Any
    ) -> httpx.Response:
        form = {"workspace_id": self.ws, **fields}
        files = {"file": (filename, data, "application/octet-stream")}
        return await self.client.post("/", data=form, files=files, headers=auth(user or self.editor))

    async def rows(self) -> list[dict[str, Any]]:
        return await self.db.fetch_all(
            "SELECT * FROM media_assets WHERE workspace_id = %(ws)s ORDER BY created_at", {"ws": self.ws}
        )


@pytest.fixture
async def world(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_LOCAL_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("URL_SIGNING_KEY", "url-signing-key-for-tests")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1000")
    await close_storage()
    async with db.transaction() as tx:
        ws = await factories.create_workspace(tx, timezone="Europe/Madrid")
        other = await factories.create_workspace(tx, name="Other FC")
        editor = await factories.create_member(tx, ws["id"], "editor")
        viewer = await factories.create_member(tx, ws["id"], "viewer")
        stranger = await factories.create_member(tx, other["id"], "owner")
    app = load_function(ROOT / "functions" / "assets" / "main.py").app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(
            client, db, str(ws["id"]), str(editor["id"]), str(viewer["id"]), str(stranger["id"]), str(other["id"])
        )
    await close_storage()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in response.text
    return error


# --- upload ---------------------------------------------------------------------------------------


async def test_upload_stores_original_and_normalised_and_records_the_row(world: World) -> None:
    data = images.jpeg((800, 600), orientation=6, taken="2025:03:01 17:45:00")
    response = await world.upload(data, tags="Goal, celebration", match_id=None)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "workspace_id", "width", "height", "taken_at", "tags", "match_id", "preview_url"}
    assert (body["width"], body["height"]) == (600, 800)
    assert body["taken_at"] == "2025-03-01T16:45:00+00:00"  # Madrid local time (no offset in EXIF)
    assert body["tags"] == ["celebration", "goal"]
    assert body["preview_url"].startswith("http://127.0.0.1:8080/storage/v1/object/sign/")
    [row] = await world.rows()
    assert row["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert (row["source"], row["status"], row["mime_type"], row["bytes"]) == (
        "upload",
        "ready",
        "image/jpeg",
        len(data),
    )
    assert row["original_filename"] == "photo.jpg"
    assert str(row["uploaded_by"]) == world.editor
    base = f"workspaces/{world.ws}/assets/{body['id']}"
    assert (row["original_path"], row["normalized_path"]) == (f"{base}/original.jpg", f"{base}/normalized.jpg")
    storage = get_storage()
    assert await storage.get(row["original_path"]) == data
    assert (await storage.get(row["normalized_path"])).startswith(b"\xff\xd8\xff")


async def test_the_same_bytes_twice_are_one_asset_with_merged_tags(world: World) -> None:
    data = images.jpeg()
    first = await world.upload(data, tags="a")
    second = await world.upload(data, filename="copy.jpg", tags="b")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["tags"] == ["a", "b"]
    assert len(await world.rows()) == 1


async def test_concurrent_duplicate_uploads_make_one_asset(world: World) -> None:
    data = images.noisy_jpeg((900, 700))
    responses = await asyncio.gather(*(world.upload(data) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    [row] = await world.rows()
    root = Path(get_storage().root) / "media"  # type: ignore[attr-defined]
    stored = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    # the losers' objects were removed
    assert stored == sorted([row["original_path"], row["normalized_path"], row["rendition_path"]])


async def test_a_heic_from_a_phone_with_a_jpg_name_is_accepted(world: World) -> None:
    response = await world.upload(images.heic_from_phone(), filename="IMG_0001.jpg")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (480, 640)
    [row] = await world.rows()
    assert row["mime_type"] == "image/heic"
    assert row["original_path"].endswith("/original.heic")


async def test_a_match_of_the_workspace_links_the_photo(world: World) -> None:
    async with world.db.transaction() as tx:
        match = await factories.create_match(tx, world.ws)
        foreign = await factories.create_match(tx, world.other_ws)
    ok = await world.upload(images.jpeg(), match_id=str(match["id"]))
    assert ok.status_code == 201 and ok.json()["match_id"] == str(match["id"])
    assert_error(await world.upload(images.png(), match_id=str(foreign["id"])), 422, "unprocessable")


HOSTILE: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("zero-byte", images.zero_byte, 422, "unprocessable"),
    ("truncated", images.truncated_jpeg, 422, "unprocessable"),
    ("png-bomb", images.png_bomb, 422, "unprocessable"),
    ("huge-dimensions", images.jpeg_with_huge_dimensions, 422, "unprocessable"),
    ("animated-gif", images.animated_gif, 415, "unsupported_media_type"),
    ("pdf", images.pdf, 415, "unsupported_media_type"),
    ("text", images.text_file, 415, "unsupported_media_type"),
]


@pytest.mark.parametrize(("name", "make", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_the_hostile_corpus_gets_a_4xx_and_leaves_nothing(
    world: World, name: str, make: Callable[[], bytes], status: int, code: str
) -> None:
    assert_error(await world.upload(make(), filename=f"{name}.jpg"), status, code)
    assert await world.rows() == []
    root = Path(get_storage().root) / "media"  # type: ignore[attr-defined]
    assert not [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "make", [images.cmyk_jpeg, images.png_16bit_gray, images.palette_png_with_transparency, images.gray_alpha_png]
)
async def test_awkward_but_valid_images_are_accepted(world: World, make: Callable[[], bytes]) -> None:
    assert (await world.upload(make())).status_code == 201


# --- memory: ceilings and the decode budget ---------------------------------------------------------


async def test_a_png_over_its_pixel_ceiling_is_422_and_leaves_nothing(world: World) -> None:
    poster = images.flat_png(7100, 7100)  # 50.4 MP in 1 MB: under the 80 MP of a JPEG, over PNG's 50
    error = assert_error(await world.upload(poster, filename="poster.png"), 422, "unprocessable")
    assert "7100x7100" in error["message"]
    assert "PNG images may have at most 50 megapixels" in error["message"]
    assert await world.rows() == []
    root = Path(get_storage().root) / "media"  # type: ignore[attr-defined]
    assert not [p for p in root.rglob("*") if p.is_file()]


async def test_a_phone_photo_of_12_megapixels_still_imports(world: World) -> None:
    response = await world.upload(images.noisy_jpeg((4032, 3024)), filename="IMG_0001.JPG")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (4032, 3024)
    [row] = await world.rows()
    assert row["status"] == "ready"


async def test_while_the_decode_budget_is_full_an_upload_is_503_and_can_be_sent_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "0")
    reset_settings()
    budget = decode_budget()
    data = images.jpeg((640, 480))
    with budget.hold_blocking(budget.capacity):  # other decodes hold all of it
        error = assert_error(await world.upload(data), 503, "dependency_unavailable")
        assert "busy" in error["message"]
        assert await world.rows() == []
    assert (await world.upload(data)).status_code == 201


async def test_an_image_needing_more_than_the_whole_decode_budget_is_413(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_DECODE_BUDGET_MIB", "8")
    reset_settings()
    error = assert_error(await world.upload(images.noisy_jpeg((2000, 1500))), 413, "payload_too_large")
    assert "this server decodes at most 8 MiB at a time" in error["message"]
    assert await world.rows() == []


async def test_over_40_mb_is_413(world: World) -> None:
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (40 * 1024 * 1024 + 10)
    assert_error(await world.upload(big), 413, "payload_too_large")

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted while it streams
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n'
        for _ in range(41):
            yield b"\x00" * (1024 * 1024)

    response = await world.client.post(
        "/", content=stream(), headers={**auth(world.editor), "content-type": "multipart/form-data; boundary=b"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_bad_forms(world: World) -> None:
    headers = auth(world.editor)
    assert_error(
        await world.client.post("/", json={"workspace_id": world.ws}, headers=headers), 415, "unsupported_media_type"
    )
    no_file = await world.client.post("/", data={"workspace_id": world.ws}, files={"x": ("a", b"")}, headers=headers)
    assert_error(no_file, 422, "validation_failed")
    bad_ws = await world.client.post(
        "/", data={"workspace_id": "nope"}, files={"file": ("a.jpg", images.jpeg())}, headers=headers
    )
    error = assert_error(bad_ws, 422, "validation_failed")
    assert error["details"][0]["field"] == "workspace_id"
    two = await world.client.post(
        "/",
        data={"workspace_id": world.ws},
        files=[("file", ("a.jpg", images.jpeg())), ("file", ("b.jpg", images.png()))],
        headers=headers,
    )
    assert_error(two, 400, "bad_request")
    garbage = await world.client.post(
        "/", content=b"not multipart at all", headers={**headers, "content-type": "multipart/form-data; boundary=zz"}
    )
    assert garbage.status_code in (400, 422)


async def test_roles(world: World) -> None:
    assert_error(await world.upload(images.jpeg(), user=world.viewer), 403, "forbidden")
    assert_error(await world.upload(images.jpeg(), user=world.stranger), 403, "forbidden")
    no_token = await world.client.post("/", data={"workspace_id": world.ws}, files={"file": ("a.jpg", images.jpeg())})
    assert_error(no_token, 401, "unauthenticated")
    assert await world.rows() == []


# --- list and delete ------------------------------------------------------------------------------


async def test_list_pages_newest_first_and_filters_by_match(world: World) -> None:
    async with world.db.transaction() as tx:
        match = await factories.create_match(tx, world.ws)
    ids = []
    for i in range(3):
        data = images.jpeg((100 + i, 100))
        ids.append((await world.upload(data, match_id=str(match["id"]) if i == 0 else "")).json()["id"])
    params = {"workspace_id": world.ws, "limit": "2"}
    first = await world.client.get("/", params=params, headers=auth(world.viewer))
    assert first.status_code == 200, first.text
    assert [a["id"] for a in first.json()["items"]] == ids[::-1][:2]
    cursor = first.json()["next_cursor"]
    second = await world.client.get("/", params={**params, "cursor": cursor}, headers=auth(world.viewer))
    assert [a["id"] for a in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    by_match = await world.client.get(
        "/", params={"workspace_id": world.ws, "match_id": str(match["id"])}, headers=auth(world.viewer)
    )
    assert [a["id"] for a in by_match.json()["items"]] == [ids[0]]
    bad = await world.client.get("/", params={**params, "cursor": "garbage!"}, headers=auth(world.viewer))
    assert_error(bad, 400, "bad_request")
    foreign = await world.client.get("/", params=params, headers=auth(world.stranger))
    assert_error(foreign, 403, "forbidden")


async def test_delete_removes_row_and_objects(world: World) -> None:
    body = (await world.upload(images.jpeg())).json()
    [row] = await world.rows()
    assert_error(await world.client.delete(f"/{body['id']}", headers=auth(world.viewer)), 403, "forbidden")
    assert_error(await world.client.delete(f"/{body['id']}", headers=auth(world.stranger)), 404, "not_found")
    assert_error(await world.client.delete(f"/{uuid.uuid4()}", headers=auth(world.editor)), 404, "not_found")
    response = await world.client.delete(f"/{body['id']}", headers=auth(world.editor))
    assert response.status_code == 204, response.text
    assert await world.rows() == []
    storage = get_storage()
    assert not await storage.exists(row["original_path"])
    assert not await storage.exists(row["normalized_path"])


@pytest.mark.parametrize(("status", "expected"), [("scheduled", 409), ("publishing", 409), ("draft", 204)])
async def test_delete_is_refused_while_a_scheduled_post_uses_the_photo(
    world: World, status: str, expected: int
) -> None:
    body = (await world.upload(images.jpeg())).json()
    async with world.db.transaction() as tx:
        post = await factories.create_post(tx, world.ws, status=status)  # type: ignore[arg-type]
        await factories.add_post_media(tx, post, asset_id=body["id"])
    [row] = await world.rows()
    response = await world.client.delete(f"/{body['id']}", headers=auth(world.editor))
    assert response.status_code == expected, response.text
    assert len(await world.rows()) == (1 if expected == 409 else 0)
    # the post still shows (and may later publish) the photo: its files stay
    storage = get_storage()
    assert await storage.exists(row["normalized_path"]) and await storage.exists(row["original_path"])
