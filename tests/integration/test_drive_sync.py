"""Drive import end to end: the `drive-sync` function (in process) against the Drive sandbox over
real HTTP, a real database and local storage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sociallab.config import get_settings, reset_settings
from sociallab.content.decode_budget import decode_budget
from sociallab.db import Database
from sociallab.dev.loader import load_function
from sociallab.drive import sync
from sociallab.drive.client import DriveClient
from sociallab.storage import close_storage, get_storage
from tests.fixtures import images
from tests.integration import factories
from tests.plugins.drive import DriveServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-hs256-secret-that-is-long-enough"
SCHEDULER = {"Authorization": "Bearer scheduler-secret-for-tests"}


def auth(user_id: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": "authenticated", "role": "authenticated", "exp": now + 600, "iat": now}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@dataclass
class World:
    client: httpx.AsyncClient
    db: Database
    drive: DriveServer
    ws: str
    editor: str
    viewer: str
    stranger: str

    async def add_source(self, folder_id: str, *, ws: str | None = None, user: str | None = None) -> httpx.Response:
        body = {"workspace_id": ws or self.ws, "folder_id": folder_id}
        return await self.client.post("/sources", json=body, headers=auth(user or self.editor))

    async def verify(self, source_id: str, user: str | None = None) -> httpx.Response:
        return await self.client.post(f"/sources/{source_id}/verify", headers=auth(user or self.editor))

    async def connect(self, folder_id: str) -> dict[str, Any]:
        """The whole flow a club goes through: connect, create the verification file, verify."""
        response = await self.add_source(folder_id)
        assert response.status_code == 201, response.text
        pending = response.json()
        self.drive.sandbox.add_file(
            pending["verification"]["file_name"], b"", parents=[folder_id], mime_type="text/plain"
        )
        verified = await self.verify(pending["id"])
        assert verified.status_code == 200, verified.text
        return verified.json()

    async def tick(self) -> dict[str, int]:
        response = await self.client.post("/", json={}, headers=SCHEDULER)
        assert response.status_code == 200, response.text
        return response.json()

    async def assets(self) -> list[dict[str, Any]]:
        return await self.db.fetch_all(
            "SELECT * FROM media_assets WHERE workspace_id = %(ws)s ORDER BY original_filename", {"ws": self.ws}
        )

    async def source(self, source_id: str) -> dict[str, Any]:
        row = await self.db.fetch_one("SELECT * FROM drive_sources WHERE id = %(id)s", {"id": source_id})
        assert row is not None
        return row


@pytest.fixture
async def world(
    db: Database, drive_env: DriveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("SCHEDULER_SECRET", "scheduler-secret-for-tests")
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_LOCAL_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("URL_SIGNING_KEY", "url-signing-key-for-tests")
    await close_storage()
    async with db.transaction() as tx:
        ws = await factories.create_workspace(tx)
        other = await factories.create_workspace(tx, name="Other FC")
        editor = await factories.create_member(tx, ws["id"], "editor")
        viewer = await factories.create_member(tx, ws["id"], "viewer")
        stranger = await factories.create_member(tx, other["id"], "owner")
    app = load_function(ROOT / "functions" / "drive-sync" / "main.py").app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(client, db, drive_env, str(ws["id"]), str(editor["id"]), str(viewer["id"]), str(stranger["id"]))
    await close_storage()


# --- sources --------------------------------------------------------------------------------------


async def test_connecting_a_folder_checks_it_can_be_read(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("Match photos", drive_id="0Ashared")
    source = await world.connect(folder)
    assert (source["folder_id"], source["folder_name"], source["drive_id"], source["status"]) == (
        folder,
        "Match photos",
        "0Ashared",
        "active",
    )
    assert "channel_token" not in source
    assert (await world.source(source["id"]))["channel_token"]

    headers = auth(world.editor)

    async def post(folder_id: str, user: dict[str, str] = headers) -> httpx.Response:
        return await world.client.post(
            "/sources", json={"workspace_id": world.ws, "folder_id": folder_id}, headers=user
        )

    missing = await post("doesNotExist")
    assert missing.status_code == 422
    assert sandbox.client_email in missing.json()["error"]["message"]
    assert (await post(sandbox.add_folder("private", readable=False))).status_code == 422
    a_file = sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    assert "not a folder" in (await post(a_file)).json()["error"]["message"]
    assert (await post(folder)).status_code == 409
    assert (await post(sandbox.add_folder("x"), auth(world.viewer))).status_code == 403
    assert (await post("bad'id")).status_code == 422
    sandbox.fail_next("/drive/v3/files", 503, times=10)
    assert (await post(sandbox.add_folder("y"))).status_code == 503


async def test_a_folder_is_connected_only_after_proof_of_access(world: World) -> None:
    sandbox = world.drive.sandbox
    folder, elsewhere = sandbox.add_folder("Match photos"), sandbox.add_folder("Mine")
    sandbox.add_file("goal.jpg", images.jpeg(), parents=[folder])
    response = await world.add_source(folder)
    assert response.status_code == 201, response.text
    pending = response.json()
    name = pending["verification"]["file_name"]
    assert pending["status"] == "pending" and pending["folder_name"] is None  # nothing revealed before proof
    assert name.startswith("sociallab-verify-") and len(name) >= len("sociallab-verify-") + 32
    assert (await world.source(pending["id"]))["verified_at"] is None

    # asking again shows the same instructions; another source gets another secret
    again = await world.add_source(folder)
    assert again.status_code == 200 and again.json()["verification"]["file_name"] == name
    other = (await world.add_source(elsewhere)).json()
    assert other["verification"]["file_name"] != name

    # a pending source never imports: not on the scheduler's tick, not on "sync now"
    assert await world.tick() == {"imported": 0, "skipped": 0, "failed": 0, "sources": 0}
    sync_now = await world.client.post("/", json={"source_id": pending["id"]}, headers=auth(world.editor))
    assert sync_now.status_code == 409 and name in sync_now.json()["error"]["message"]
    assert await world.assets() == []

    # the file must be in that folder, not trashed, with exactly that name
    missing = await world.verify(pending["id"])
    assert missing.status_code == 409, missing.text
    assert name in missing.json()["error"]["message"]
    sandbox.add_file(name, b"", parents=[elsewhere], mime_type="text/plain")
    sandbox.add_file(name + "x", b"", parents=[folder], mime_type="text/plain")
    trashed = sandbox.add_file(name, b"", parents=[folder], mime_type="text/plain")
    sandbox.update_file(trashed, trashed=True)
    assert (await world.verify(pending["id"])).status_code == 409
    assert (await world.verify(pending["id"], world.viewer)).status_code == 403
    assert (await world.verify(pending["id"], world.stranger)).status_code == 404

    sandbox.add_file(name, b"", parents=[folder], mime_type="application/vnd.google-apps.document")
    verified = await world.verify(pending["id"])
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert (body["status"], body["folder_name"], body["verification"]) == ("active", "Match photos", None)
    assert (await world.source(pending["id"]))["verified_at"] is not None
    assert (await world.verify(pending["id"])).json()["status"] == "active"  # verifying again changes nothing
    assert (await world.tick())["imported"] == 1
    assert [r["original_filename"] for r in await world.assets()] == ["goal.jpg"]


async def test_another_workspace_cannot_import_a_folder_it_does_not_control(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("A's photos")
    sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    mine = await world.connect(folder)  # workspace A proves access; its verification file stays there
    async with world.db.transaction() as tx:
        other_ws = await tx.fetch_val(
            "SELECT workspace_id FROM workspace_members WHERE user_id = %(u)s", {"u": world.stranger}
        )
    theirs = await world.add_source(folder, ws=str(other_ws), user=world.stranger)
    assert theirs.status_code == 201, theirs.text
    source_id = theirs.json()["id"]
    assert (await world.verify(source_id, world.stranger)).status_code == 409  # A's file proves nothing for B
    assert (await world.verify(source_id, world.editor)).status_code == 404
    assert (await world.tick())["sources"] == 1  # A's source only
    sync_now = await world.client.post("/", json={"source_id": source_id}, headers=auth(world.stranger))
    assert sync_now.status_code == 409
    imported = await world.db.fetch_all("SELECT workspace_id, drive_source_id FROM media_assets WHERE status = 'ready'")
    assert [(str(r["workspace_id"]), str(r["drive_source_id"])) for r in imported] == [(world.ws, mine["id"])]


# --- syncing --------------------------------------------------------------------------------------


async def test_first_sync_imports_the_folder_and_records_bad_files(world: World) -> None:
    sandbox = world.drive.sandbox
    sandbox.page_size_cap = 3
    folder = sandbox.add_folder("Match photos")
    sandbox.add_file("a_goal.jpg", images.jpeg((640, 480), taken="2025:04:05 19:00:00"), parents=[folder])
    sandbox.add_file("b_phone.HEIC", images.heic_from_phone(), parents=[folder])
    sandbox.add_file("c_wrong_ext.jpg", images.png(), parents=[folder], mime_type="image/jpeg")
    sandbox.add_file("d_truncated.jpg", images.truncated_jpeg(), parents=[folder])
    sandbox.add_file("e_anim.gif", images.animated_gif(), parents=[folder], mime_type="image/gif")
    sandbox.add_file("f_bomb.png", images.png_bomb(), parents=[folder])
    sandbox.add_file("g_empty.jpg", b"", parents=[folder], mime_type="image/jpeg")
    sandbox.add_file("notes.txt", b"x", parents=[folder], mime_type="text/plain")
    source = await world.connect(folder)
    assert await world.tick() == {"imported": 3, "skipped": 0, "failed": 4, "sources": 1}
    rows = {r["original_filename"]: r for r in await world.assets()}
    assert {n for n, r in rows.items() if r["status"] == "ready"} == {"a_goal.jpg", "b_phone.HEIC", "c_wrong_ext.jpg"}
    assert rows["b_phone.HEIC"]["mime_type"] == "image/heic"
    assert all(r["source"] == "drive" and str(r["drive_source_id"]) == source["id"] for r in rows.values())
    failed = {n: r for n, r in rows.items() if r["status"] == "failed"}
    assert set(failed) == {"d_truncated.jpg", "e_anim.gif", "f_bomb.png", "g_empty.jpg"}
    assert "GIF" in failed["e_anim.gif"]["error"]
    assert not any(r["error_transient"] for r in failed.values())
    saved = await world.source(source["id"])
    assert saved["changes_page_token"] and saved["last_synced_at"] and saved["status"] == "active"

    # the next tick finds nothing new and does not retry permanent failures
    downloads = len([c for c in sandbox.requests if c[2].get("alt") == "media"])
    assert await world.tick() == {"imported": 0, "skipped": 0, "failed": 0, "sources": 1}
    assert len([c for c in sandbox.requests if c[2].get("alt") == "media"]) == downloads


async def test_later_syncs_follow_changes_in_the_folder_only(world: World) -> None:
    sandbox = world.drive.sandbox
    folder, elsewhere = sandbox.add_folder("photos"), sandbox.add_folder("other")
    first = sandbox.add_file("1.jpg", images.jpeg((100, 100)), parents=[folder])
    source = await world.connect(folder)
    assert (await world.tick())["imported"] == 1
    lists_before = len(sandbox.calls("/drive/v3/files?")) + len(
        [c for c in sandbox.requests if c[1] == "/drive/v3/files"]
    )

    sandbox.add_file("2.jpg", images.jpeg((200, 100)), parents=[folder])
    sandbox.add_file("elsewhere.jpg", images.jpeg((300, 100)), parents=[elsewhere])
    gone = sandbox.add_file("3.jpg", images.jpeg((400, 100)), parents=[folder])
    sandbox.update_file(gone, trashed=True)
    sandbox.delete_file(first)
    assert await world.tick() == {"imported": 1, "skipped": 0, "failed": 0, "sources": 1}
    assert sorted(r["original_filename"] for r in await world.assets()) == ["1.jpg", "2.jpg"]
    assert len([c for c in sandbox.requests if c[1] == "/drive/v3/files"]) == lists_before  # no relisting
    assert sandbox.calls("/drive/v3/changes?") == [] and sandbox.calls("/drive/v3/changes")

    # a changed file is a new version; the old one, used by nothing, goes
    [two] = [r for r in await world.assets() if r["original_filename"] == "2.jpg"]
    [file_two] = [f.id for f in sandbox.files.values() if f.name == "2.jpg"]
    sandbox.update_file(file_two, data=images.jpeg((250, 100)))
    assert (await world.tick())["imported"] == 1
    [again] = [r for r in await world.assets() if r["original_filename"] == "2.jpg"]
    assert again["id"] != two["id"] and again["width"] == 250 and again["md5"] != two["md5"]
    assert again["drive_file_id"] == two["drive_file_id"] and again["superseded_at"] is None
    assert (await world.source(source["id"]))["status"] == "active"


async def test_dedupe_by_md5_skips_without_downloading(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("photos")
    data = images.jpeg((123, 45))
    async with world.db.transaction() as tx:
        await factories.create_asset(
            tx, world.ws, md5=__import__("hashlib").md5(data, usedforsecurity=False).hexdigest()
        )
    sandbox.add_file("dup.jpg", data, parents=[folder])
    twin = images.jpeg((99, 45))
    sandbox.add_file("twin1.jpg", twin, parents=[folder])
    sandbox.add_file("twin2.jpg", twin, parents=[folder])
    await world.connect(folder)
    assert await world.tick() == {"imported": 1, "skipped": 2, "failed": 0, "sources": 1}
    assert len([c for c in sandbox.requests if c[2].get("alt") == "media"]) == 1


async def test_transient_failures_are_retried_a_bounded_number_of_times(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("photos")
    file_id = sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    source = (await world.connect(folder))["id"]
    delays: list[float] = []

    async def no_wait(delay: float) -> None:
        delays.append(delay)

    async with httpx.AsyncClient(timeout=10) as http:
        drive = DriveClient.from_settings(get_settings(), http, sleep=no_wait)
        storage = get_storage()
        sandbox.fail_next(f"/drive/v3/files/{file_id}", 503, times=4)  # every attempt of one download
        result = await sync.sync_source(world.db, drive, source, storage=storage)
        assert result.model_dump() == {"imported": 0, "skipped": 0, "failed": 1, "sources": 1}
        assert len(delays) == 3
        [row] = await world.assets()
        assert (row["status"], row["error_transient"], row["import_attempts"]) == ("failed", True, 1)
        # the next run's retry pass
        assert (await sync.sync_source(world.db, drive, source, storage=storage)).imported == 1
        [row] = await world.assets()
        assert (row["status"], row["import_attempts"], row["error"]) == ("ready", 0, None)

        always = sandbox.add_file("b.jpg", images.png(), parents=[folder])
        sandbox.fail_next(f"/drive/v3/files/{always}", 503, times=1000)
        for _ in range(5):
            await sync.sync_source(world.db, drive, source, storage=storage)
    [b] = [r for r in await world.assets() if r["original_filename"] == "b.jpg"]
    assert (b["status"], b["import_attempts"]) == ("failed", sync.MAX_IMPORT_ATTEMPTS)


class KilledOnDownload(httpx.AsyncBaseTransport):
    """The network as an instance sees it that dies (out of memory, killed) while it imports one file."""

    def __init__(self, file_id: str) -> None:
        self.file_id, self.inner = file_id, httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("alt") == "media" and request.url.path.endswith(self.file_id):
            raise asyncio.CancelledError  # nothing after this point runs in a dead instance
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_file_that_kills_the_import_is_given_up_until_it_changes(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("photos")
    poison = sandbox.add_file("a_poison.jpg", images.jpeg((300, 200)), parents=[folder])
    sandbox.add_file("b_good.jpg", images.jpeg((200, 200)), parents=[folder])
    source = (await world.connect(folder))["id"]
    async with httpx.AsyncClient(transport=KilledOnDownload(poison), timeout=10) as http:
        drive, storage = DriveClient.from_settings(get_settings(), http), get_storage()
        for _ in range(sync.MAX_IMPORT_ATTEMPTS):
            with pytest.raises(asyncio.CancelledError):
                await sync.sync_source(world.db, drive, source, storage=storage)
        # the file is given up: the rest of the folder imports
        result = await sync.sync_source(world.db, drive, source, storage=storage)
    assert result.model_dump() == {"imported": 1, "skipped": 1, "failed": 0, "sources": 1}
    rows = {r["original_filename"]: r for r in await world.assets()}
    assert (rows["b_good.jpg"]["status"], rows["a_poison.jpg"]["status"]) == ("ready", "failed")
    assert rows["a_poison.jpg"]["import_attempts"] == sync.MAX_IMPORT_ATTEMPTS
    assert "did not finish" in rows["a_poison.jpg"]["error"]

    sandbox.update_file(poison, data=images.jpeg((320, 200)))  # changed: tried again, with a fresh count
    assert (await world.tick())["imported"] == 1
    assert {r["status"] for r in await world.assets()} == {"ready"}


async def test_a_folder_that_is_no_longer_shared_marks_the_source(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("photos")
    source = await world.connect(folder)
    await world.tick()
    sandbox.fail_next("/drive/v3/changes", 404, times=1)
    sandbox.fail_next("/drive/v3/changes/startPageToken", 403, times=1)
    assert (await world.tick())["sources"] == 1
    saved = await world.source(source["id"])
    assert saved["status"] == "error" and saved["last_error"]


async def test_overlapping_syncs_of_one_source_do_the_work_once(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("photos")
    for i in range(3):
        sandbox.add_file(f"{i}.jpg", images.jpeg((100 + i, 80)), parents=[folder])
    source = await world.connect(folder)
    async with httpx.AsyncClient(timeout=10) as http:
        drive, storage = DriveClient.from_settings(get_settings(), http), get_storage()
        runs = (sync.sync_source(world.db, drive, source["id"], storage=storage) for _ in range(3))
        results = await asyncio.gather(*runs)
    assert sum(r.sources for r in results) == 1
    assert sum(r.imported for r in results) == 3
    assert (await world.source(source["id"]))["sync_lease_until"] is None


# --- callers --------------------------------------------------------------------------------------


async def test_users_sync_their_own_sources(world: World) -> None:
    folder = world.drive.sandbox.add_folder("photos")
    world.drive.sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    source = await world.connect(folder)
    body = {"source_id": source["id"]}
    assert (await world.client.post("/", json=body, headers=auth(world.viewer))).status_code == 403
    assert (await world.client.post("/", json=body, headers=auth(world.stranger))).status_code == 404
    assert (await world.client.post("/", json={}, headers=auth(world.editor))).status_code == 422
    assert (await world.client.post("/", json=body)).status_code == 401
    assert (await world.client.post("/", json=body, headers={"Authorization": "Bearer wrong"})).status_code == 401
    response = await world.client.post("/", json=body, headers=auth(world.editor))
    assert response.json() == {"imported": 1, "skipped": 0, "failed": 0, "sources": 1}


async def test_push_notifications_need_the_channel_token(world: World) -> None:
    folder = world.drive.sandbox.add_folder("photos")
    source = await world.connect(folder)
    await world.db.execute("UPDATE drive_sources SET channel_id = 'chan-1' WHERE id = %(id)s", {"id": source["id"]})
    token = (await world.source(source["id"]))["channel_token"]

    async def notify(state: str, given: str) -> httpx.Response:
        headers = {"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": given, "X-Goog-Resource-State": state}
        return await world.client.post("/notifications", headers=headers)

    assert (await notify("change", "wrong")).status_code == 401
    assert (await world.client.post("/notifications")).status_code == 401
    assert (await notify("sync", token)).json() == {"acknowledged": True}
    world.drive.sandbox.add_file("a.jpg", images.jpeg(), parents=[folder])
    response = await notify("change", token)
    assert response.status_code == 200
    assert response.json()["imported"] == 1


# --- files too large to decode ------------------------------------------------------------------


async def test_a_photo_too_large_to_decode_is_recorded_once_and_not_retried(world: World) -> None:
    sandbox = world.drive.sandbox
    folder = sandbox.add_folder("Match photos")
    await world.connect(folder)
    # 50.4 MP in 1 MB: under the 80 MP of a JPEG, over PNG's 50; it used to take ~ 1 GB to import
    poison = sandbox.add_file("a_poster.png", images.flat_png(7100, 7100), parents=[folder])
    sandbox.add_file("b_goal.jpg", images.jpeg((640, 480)), parents=[folder])
    assert await world.tick() == {"imported": 1, "skipped": 0, "failed": 1, "sources": 1}
    rows = {r["original_filename"]: r for r in await world.assets()}
    assert rows["b_goal.jpg"]["status"] == "ready"
    failed = rows["a_poster.png"]
    assert (failed["status"], failed["error_transient"], failed["import_attempts"]) == ("failed", False, 1)
    assert "PNG images may have at most 50 megapixels" in failed["error"]

    def downloads() -> int:
        return len([c for c in sandbox.requests if c[2].get("alt") == "media"])

    before = downloads()
    assert await world.tick() == {"imported": 0, "skipped": 0, "failed": 0, "sources": 1}
    sandbox.update_file(poison)  # touched (renamed, moved...) but the same content: still not tried again
    assert await world.tick() == {"imported": 0, "skipped": 1, "failed": 0, "sources": 1}
    assert downloads() == before
    row = next(r for r in await world.assets() if r["original_filename"] == "a_poster.png")
    assert (row["status"], row["import_attempts"]) == ("failed", 1)


async def test_a_busy_decoder_is_a_transient_failure_the_next_sync_retries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_DECODE_WAIT_SECONDS", "0")
    reset_settings()
    budget = decode_budget()
    folder = world.drive.sandbox.add_folder("Match photos")
    await world.connect(folder)
    world.drive.sandbox.add_file("goal.jpg", images.jpeg((640, 480)), parents=[folder])
    with budget.hold_blocking(budget.capacity):  # other decodes hold all of it
        assert await world.tick() == {"imported": 0, "skipped": 0, "failed": 1, "sources": 1}
    [row] = await world.assets()
    assert (row["status"], row["error_transient"]) == ("failed", True)
    assert "busy" in row["error"]
    assert await world.tick() == {"imported": 1, "skipped": 0, "failed": 0, "sources": 1}
    [row] = await world.assets()
    assert row["status"] == "ready"
