"""The product as `make run` serves it: demo content, then a post published to the Instagram sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import DevServer, start_devserver, wait_healthy

pytestmark = pytest.mark.e2e

DEMO_WORKSPACE = "00000000-0000-4000-8000-000000000002"


@pytest.fixture
def product(database_url: str, tmp_path: Path) -> Iterator[DevServer]:
    server = start_devserver(tmp_path / "data", {"DATABASE_URL": database_url}, "--no-cron")
    wait_healthy(server)
    yield server
    server.stop()


def test_demo_content_and_publishing_end_to_end(product: DevServer, tmp_path: Path) -> None:
    product.wait_for_line("bearer token")
    user = {"Authorization": f"Bearer {product.next_line().strip()}"}
    scheduler_secret = json.loads((tmp_path / "data" / "dev-secrets.json").read_text())["SCHEDULER_SECRET"]
    base = product.base_url

    posts = httpx.get(f"{base}/posts/", params={"workspace_id": DEMO_WORKSPACE}, headers=user).json()["items"]
    assert {p["status"] for p in posts} >= {"draft", "scheduled"}
    assert all(p["images"] and p["images"][0]["url"] for p in posts)
    image = httpx.get(posts[0]["images"][0]["url"])  # the composed JPEG, through a signed storage URL
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
    account_id = next(p["instagram_account_id"] for p in posts if p["instagram_account_id"])
    assets = httpx.get(f"{base}/assets/", params={"workspace_id": DEMO_WORKSPACE}, headers=user).json()["items"]
    assert len(assets) >= 3

    created = httpx.post(
        f"{base}/posts/",
        json={
            "workspace_id": DEMO_WORKSPACE,
            "instagram_account_id": account_id,
            "media_type": "IMAGE",
            "caption": "Three points at home. #DemoFC",
            "asset_ids": [assets[0]["id"]],
            "scheduled_at": datetime.now(UTC).isoformat(),
        },
        headers=user,
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["status"] == "scheduled"

    run = httpx.post(
        f"{base}/publish-due/", json={}, headers={"Authorization": f"Bearer {scheduler_secret}"}, timeout=60
    )
    assert run.status_code == 200 and run.json()["published"] >= 1, run.text
    published = httpx.get(f"{base}/posts/{post['id']}", headers=user).json()
    assert published["status"] == "published" and published["ig_media_id"] and published["permalink"]

    sandbox = httpx.get(f"{base}/sandbox/instagram/_sandbox/state").json()
    assert json.dumps(sandbox).count("Three points at home.") >= 1
    page = httpx.get(f"{base}/").text
    assert "Three points at home." in page and "<img" in page


def test_connecting_instagram_from_the_preview_as_a_person_would(product: DevServer) -> None:
    base = product.base_url
    page = httpx.get(f"{base}/").text
    assert "Instagram accounts (1)" in page and "/dev/instagram/connect" in page
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        done = browser.get(f"{base}/dev/instagram/connect")
    hops = [str(r.url).split("?")[0].removeprefix(base) for r in done.history]
    # our page -> Instagram's consent (the sandbox) -> the registered callback -> the page that completes it
    assert hops == ["/dev/instagram/connect", "/sandbox/instagram/oauth/authorize", "/instagram-auth/callback"]
    assert str(done.url).startswith(f"{base}/dev/instagram/return?code=")
    assert done.status_code == 200 and "Connected" in done.text and "is connected (active)" in done.text
    # Reloading the completing page replays a spent state: refused, nothing changes.
    again = httpx.get(str(done.url))
    assert again.status_code == 400 and "already used" in again.text
    assert "Instagram accounts (1)" in httpx.get(f"{base}/").text  # reconnected, not duplicated


def test_drive_folders_connect_after_proof_of_access(product: DevServer, tmp_path: Path) -> None:
    product.wait_for_line("bearer token")
    user = {"Authorization": f"Bearer {product.next_line().strip()}"}
    secret = json.loads((tmp_path / "data" / "dev-secrets.json").read_text())["SCHEDULER_SECRET"]
    scheduler = {"Authorization": f"Bearer {secret}"}
    base, drive = product.base_url, f"{product.base_url}/sandbox/drive/_sandbox"

    # the seed connected and verified the demo folder: the scheduler's run syncs it
    tick = httpx.post(f"{base}/drive-sync/", json={}, headers=scheduler, timeout=60)
    assert tick.status_code == 200 and tick.json()["sources"] == 1, tick.text

    # another folder, as a club connects it: pending until the verification file is in the folder
    folder = httpx.post(f"{drive}/folders", json={"name": "Away day"}).json()["id"]
    added = httpx.post(
        f"{base}/drive-sync/sources", json={"workspace_id": DEMO_WORKSPACE, "folder_id": folder}, headers=user
    )
    assert added.status_code == 201 and added.json()["status"] == "pending", added.text
    source = added.json()
    verify = f"{base}/drive-sync/sources/{source['id']}/verify"
    assert httpx.post(verify, headers=user).status_code == 409
    name = source["verification"]["file_name"]
    assert httpx.post(f"{drive}/files", json={"name": name, "parent": folder}).status_code == 201
    verified = httpx.post(verify, headers=user)
    assert verified.status_code == 200 and verified.json()["status"] == "active", verified.text
    synced = httpx.post(f"{base}/drive-sync/", json={"source_id": source["id"]}, headers=user, timeout=60)
    assert synced.status_code == 200 and synced.json()["sources"] == 1, synced.text
