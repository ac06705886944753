"""generate-content end to end: the function over ASGI, real Postgres, local storage, Pillow photos,
the built-in templates, captions from the template or the fake Gemini, and the matches webhook."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from PIL import Image, ImageStat

from sociallab.config import get_settings, reset_settings
from sociallab.content.templates import sync_builtin_templates
from sociallab.content.webhook import (
    LEASE_SECONDS,
    MAX_ATTEMPTS,
    MatchWebhook,
    MatchWebhookHandler,
    PickupResult,
    delivery_key,
    matchday_slot,
    plan,
)
from sociallab.db import Database, Row, get_db
from sociallab.dev.loader import load_function
from sociallab.dev.server import build_app
from sociallab.storage import close_storage, get_storage
from tests.fixtures import images
from tests.integration import factories as f
from tests.plugins.gemini import FakeGemini

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
JWT_SECRET = "generate-test-hs256-secret-long-enough"
WEBHOOK_SECRET = "generate-test-webhook-secret"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def auth(user_id: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def photo(color: tuple[int, int, int], size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A sample match photo: a vertical gradient of `color`, as a camera JPEG would arrive normalised."""
    image = Image.new("RGB", size, color)
    shade = Image.linear_gradient("L").resize(size)
    image = Image.composite(image, Image.new("RGB", size, (0, 0, 0)), shade.point(lambda v: 140 + v // 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@dataclass
class World:
    db: Database
    client: httpx.AsyncClient
    webhooks: MatchWebhookHandler
    workspace: Row
    editor: Row
    viewer: Row
    account: Row
    match: Row
    assets: list[Row]

    @property
    def ws(self) -> str:
        return str(self.workspace["id"])

    async def posts(self) -> list[Row]:
        return await self.db.fetch_all(
            "SELECT * FROM posts WHERE workspace_id = %(ws)s ORDER BY created_at", {"ws": self.ws}
        )

    async def hook(self, name: str, **record: Any) -> httpx.Response:
        payload = json.loads((EVENTS / name).read_text(encoding="utf-8"))
        for part in ("record", "old_record"):
            if payload[part] is not None:
                payload[part] |= {"id": str(self.match["id"]), "workspace_id": self.ws, **record}
        headers = {"X-Webhook-Secret": WEBHOOK_SECRET}
        return await self.client.post("/generate-content/webhook", json=payload, headers=headers)


@pytest.fixture
async def world(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    for name, value in {
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "URL_SIGNING_KEY": "generate-test-url-signing-key",
        "STORAGE_BACKEND": "local",
        "STORAGE_LOCAL_DIR": str(tmp_path / "storage"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    reset_settings()
    await close_storage()
    storage = get_storage()
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
        workspace = await f.create_workspace(
            tx, timezone="Europe/Amsterdam", default_hashtags=["#TestFC"], primary_color="#0B3D91"
        )
        editor = await f.create_member(tx, workspace["id"], "editor")
        viewer = await f.create_member(tx, workspace["id"], "viewer")
        account = await f.create_instagram_account(tx, workspace["id"])
        match = await f.create_match(
            tx,
            workspace["id"],
            status="finished",
            opponent="Ødegaard Athletic",
            kickoff_at=datetime(2025, 6, 14, 16, 30, tzinfo=UTC),
            home_score=3,
            away_score=1,
        )
        assets = []
        for n, color in enumerate([(30, 200, 60), (200, 40, 40)]):
            asset = await f.create_asset(tx, workspace["id"], match_id=match["id"] if n == 0 else None)
            await storage.put(asset["normalized_path"], photo(color), "image/jpeg")
            assets.append(asset)
    function = load_function(ROOT / "functions" / "generate-content" / "main.py")
    webhooks = sys.modules["sociallab_function_generate_content"].webhooks
    app = build_app([function], settings=get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(db, client, webhooks, workspace, editor, viewer, account, match, assets)
        await webhooks.drain()
    await close_storage()
    reset_settings()


async def stored_image(path: str) -> Image.Image:
    image = Image.open(io.BytesIO(await get_storage().get(path)))
    image.load()
    return image


async def test_an_editor_generates_a_match_result_draft(world: World) -> None:
    body = {"workspace_id": world.ws, "content_type": "match_result", "match_id": str(world.match["id"])}
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["template_key"] == "match_result"
    assert out["caption_source"] == "template"
    assert "3-1" in out["caption"] and "Ødegaard Athletic" in out["caption"]
    assert "{" not in out["caption"] and "None" not in out["caption"]
    assert out["hashtags"][0] == "#TestFC"
    assert out["images"] == out["post"]["images"]
    assert (out["images"][0]["width"], out["images"][0]["height"]) == (1080, 1350)
    assert out["post"]["status"] == "draft"
    assert out["post"]["instagram_account_id"] == str(world.account["id"])  # the only active account

    [post] = await world.posts()
    assert (post["template_id"] is not None, post["match_id"], post["caption_source"]) == (
        True,
        world.match["id"],
        "template",
    )
    media = await world.db.fetch_one("SELECT * FROM post_media WHERE post_id = %(id)s", {"id": post["id"]})
    assert media is not None
    assert media["storage_path"].startswith(f"workspaces/{world.ws}/posts/")
    assert media["asset_id"] == world.assets[0]["id"]  # the photo tagged with the match comes first
    image = await stored_image(media["storage_path"])
    assert (image.format, image.size, image.mode) == ("JPEG", (1080, 1350), "RGB")
    r, g, b = image.convert("RGB").getpixel((540, int(1350 * 0.3)))  # type: ignore[misc]  # above the scrim
    assert g > r + 30 and g > b + 30


async def test_a_logo_stored_before_the_png_ceiling_is_drawn_from_its_normalised_copy(world: World) -> None:
    # A 9000x9000 PNG logo imported when PNGs could have 80 MP: decoding its original would take
    # ~ 1 GB of generate-content's memory; the normalised JPEG (<= 2560 px) is drawn instead.
    storage = get_storage()
    async with world.db.transaction() as tx:
        logo = await f.create_asset(
            tx, world.ws, mime_type="image/png", width=9000, height=9000, original_path=f"{world.ws}/logo.png"
        )
        await tx.execute(
            "UPDATE workspaces SET logo_asset_id = %(logo)s WHERE id = %(ws)s", {"logo": logo["id"], "ws": world.ws}
        )
    await storage.put(logo["original_path"], images.flat_png(9000, 9000, rgba=(255, 0, 0, 255)), "image/png")
    normalised = io.BytesIO()
    Image.new("RGB", (2560, 2560), (0, 0, 255)).save(normalised, "JPEG", quality=90)
    await storage.put(logo["normalized_path"], normalised.getvalue(), "image/jpeg")

    body = {"workspace_id": world.ws, "content_type": "match_result", "match_id": str(world.match["id"])}
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == 201, response.text
    [post] = await world.posts()
    media = await world.db.fetch_one("SELECT storage_path FROM post_media WHERE post_id = %(id)s", {"id": post["id"]})
    assert media is not None
    image = (await stored_image(media["storage_path"])).convert("RGB")
    w, h = image.size
    r, g, b = ImageStat.Stat(image.crop((round(0.08 * w), round(0.06 * h), round(0.13 * w), round(0.1 * h)))).mean
    assert b > 200 and r < 60 and g < 60  # the blue normalised copy, not the red original


async def test_gemini_caption_and_the_best_time(world: World, fake_gemini: FakeGemini) -> None:
    body = {
        "workspace_id": world.ws,
        "content_type": "match_result",
        "match_id": str(world.match["id"]),
        "format": "square",
        "schedule": "best",
        "tone": "cheeky",
    }
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["caption_source"] == "gemini"
    assert out["caption"].startswith("Gemini caption for Test FC")
    assert (out["images"][0]["width"], out["images"][0]["height"]) == (1080, 1080)
    assert out["post"]["status"] == "scheduled"
    at = datetime.fromisoformat(out["post"]["scheduled_at"]).astimezone(AMSTERDAM)
    assert (at.hour, at.minute) == (18, 0)  # no audience data yet: the workspace default time
    sent = fake_gemini.requests[0]["body"]["contents"][0]["parts"][0]["text"]
    assert '"tone": "cheeky"' in sent and "Ødegaard Athletic" in sent
    charged = await world.db.fetch_val(
        "SELECT count FROM usage_counters WHERE scope = 'gemini' AND key = %(k)s", {"k": f"workspace:{world.ws}"}
    )
    assert charged == 1  # paid from the workspace's own daily budget too


async def test_data_without_a_match_renders_with_fallbacks(world: World) -> None:
    body = {
        "workspace_id": world.ws,
        "content_type": "announcement",
        "data": {"title": "Season tickets"},
        "asset_ids": [str(world.assets[1]["id"])],
        "format": "story_9x16",
    }
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["post"]["media_type"] == "STORY"
    assert (out["images"][0]["width"], out["images"][0]["height"]) == (1080, 1920)
    assert "{" not in out["caption"] and "None" not in out["caption"]


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"schedule": "tomorrow"}, 422, "schedule"),
        ({"format": "landscape"}, 422, "format"),
        ({"asset_ids": [str(uuid.uuid4())]}, 422, "asset_ids"),
        ({"template_key": "no-such-template"}, 422, "template_key"),
        ({"content_type": "unknown_kind"}, 422, "content_type"),
        ({"match_id": str(uuid.uuid4())}, 404, None),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
async def test_bad_requests_get_the_envelope(world: World, overrides: dict, status: int, field: str | None) -> None:
    body = {"workspace_id": world.ws, "content_type": "match_result", **overrides}
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if field:
        assert any(d["field"].endswith(field) for d in error["details"]), error
    assert await world.posts() == []


async def test_a_photo_whose_file_is_gone_is_a_422_not_a_500(world: World) -> None:
    async with world.db.transaction() as tx:
        ghost = await f.create_asset(tx, world.ws)  # a row, but nothing in storage
    body = {"workspace_id": world.ws, "content_type": "match_result", "asset_ids": [str(ghost["id"])]}
    response = await world.client.post("/generate-content/", json=body, headers=auth(world.editor["id"]))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "asset_ids"


async def test_viewers_and_strangers_cannot_generate(world: World) -> None:
    body = {"workspace_id": world.ws, "content_type": "match_result"}
    assert (
        await world.client.post("/generate-content/", json=body, headers=auth(world.viewer["id"]))
    ).status_code == 403
    assert (await world.client.post("/generate-content/", json=body)).status_code == 401


async def test_a_finished_match_makes_one_draft_however_often_it_is_delivered(world: World) -> None:
    first = await world.hook("match_finished.json")
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False, "action": "match_result"}
    again = await world.hook("match_finished_redelivery.json")
    assert again.json() == {"received": True, "duplicate": True, "action": "match_result"}
    await world.webhooks.drain()
    later = await world.hook("match_finished_score_corrected.json")  # finished -> finished
    assert later.json()["action"] == "ignored"
    # A distinct delivery of the same transition (e.g. the row re-saved) is recorded, not drafted twice.
    other = await world.hook("match_finished.json", updated_at="2025-06-14T18:30:00+00:00")
    assert other.json()["duplicate"] is False
    await world.webhooks.drain()

    [post] = await world.posts()
    assert (post["status"], post["content_type"], post["dedupe_key"]) == (
        "draft",
        "match_result",
        f"match_result:{world.match['id']}",
    )
    assert post["created_by"] is None
    receipts = await world.db.fetch_all(
        "SELECT result FROM webhook_receipts WHERE source = 'supabase.matches' AND processed_at IS NOT NULL"
    )
    results = sorted(json.dumps(r["result"], sort_keys=True) for r in receipts)
    assert len(results) == 2
    assert any(str(post["id"]) in r and "post_id" in r for r in results)
    assert any(f'"duplicate_of": "{post["id"]}"' in r for r in results)


async def test_a_new_match_makes_a_matchday_post_for_the_day_before(world: World) -> None:
    kickoff = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    async with world.db.transaction() as tx:
        match = await f.create_match(tx, world.ws, kickoff_at=kickoff, opponent="Nuñez United")
    world.match = match
    response = await world.hook("match_inserted.json", kickoff_at=kickoff.isoformat())
    assert response.json() == {"received": True, "duplicate": False, "action": "matchday"}
    await world.webhooks.drain()
    [post] = await world.posts()
    assert (post["content_type"], post["status"], post["dedupe_key"]) == (
        "matchday",
        "scheduled",
        f"matchday:{match['id']}",
    )
    at = post["scheduled_at"].astimezone(AMSTERDAM)
    assert at.date() == kickoff.astimezone(AMSTERDAM).date() - timedelta(days=1)
    assert (at.hour, at.minute) == (18, 0)


async def test_the_webhook_needs_its_secret_and_ignores_other_changes(world: World) -> None:
    payload = json.loads((EVENTS / "match_finished.json").read_text(encoding="utf-8"))
    response = await world.client.post("/generate-content/webhook", json=payload, headers={"X-Webhook-Secret": "wrong"})
    assert response.status_code == 401
    deleted = copy.deepcopy(payload) | {"type": "DELETE", "record": None}
    response = await world.client.post(
        "/generate-content/webhook", json=deleted, headers={"X-Webhook-Secret": WEBHOOK_SECRET}
    )
    assert response.json()["action"] == "ignored"
    assert await world.db.fetch_val("SELECT count(*) FROM webhook_receipts") == 0


# --- nothing is lost when the instance is throttled or dies after answering (issue 7.7) ----------


class Clock:
    """The time a handler sees; a test moves it instead of waiting."""

    def __init__(self, *, ahead_seconds: float = 0) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=ahead_seconds)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def finished_delivery(world: World, match: Row | None = None) -> MatchWebhook:
    data = json.loads((EVENTS / "match_finished.json").read_text(encoding="utf-8"))
    for part in ("record", "old_record"):
        data[part] |= {"id": str((match or world.match)["id"]), "workspace_id": world.ws}
    return MatchWebhook.model_validate(data)


def handler(clock: Clock) -> MatchWebhookHandler:
    """A webhook handler made of the deployed function's own parts, on the test's clock."""
    module = sys.modules["sociallab_function_generate_content"]
    return MatchWebhookHandler(generator=module.generator, database=get_db, clock=clock)


async def accepted_then_died(webhooks: MatchWebhookHandler, delivery: MatchWebhook) -> None:
    """Supabase got its answer; then the instance was throttled or gone before the work ran."""
    assert (await webhooks.accept(delivery)).duplicate is False
    for task in list(webhooks.tasks):
        task.cancel()
    await webhooks.drain()


async def match_receipts(world: World) -> list[Row]:
    return await world.db.fetch_all(
        "SELECT delivery_key, attempts, processed_at, result FROM webhook_receipts"
        " WHERE source = 'supabase.matches' ORDER BY received_at"
    )


async def test_a_delivery_whose_work_died_is_finished_by_the_next_pickup_exactly_once(world: World) -> None:
    clock = Clock()
    webhooks = handler(clock)
    await accepted_then_died(webhooks, finished_delivery(world))
    assert await world.posts() == []
    clock.advance(LEASE_SECONDS - 1)
    assert await webhooks.pickup() == PickupResult()  # its attempt may still be working: left alone
    clock.advance(2)
    assert await webhooks.pickup() == PickupResult(picked=1, completed=1)
    assert await webhooks.pickup() == PickupResult()
    [post] = await world.posts()
    assert post["dedupe_key"] == f"match_result:{world.match['id']}"
    [receipt] = await match_receipts(world)
    assert (receipt["attempts"], receipt["result"]["post_id"]) == (2, str(post["id"]))


async def test_the_scheduled_pickup_route_needs_the_scheduler_and_finishes_what_died(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_SECRET", "generate-test-scheduler-secret")
    reset_settings()
    await accepted_then_died(sys.modules["sociallab_function_generate_content"].webhooks, finished_delivery(world))
    # Minutes pass: the lease of the attempt that answered runs out.
    await world.db.execute("UPDATE webhook_receipts SET lease_expires_at = now() - interval '1 second'")
    refused = await world.client.post("/generate-content/webhook/pickup", json={})
    assert refused.status_code == 401
    scheduler = {"Authorization": "Bearer generate-test-scheduler-secret"}
    response = await world.client.post("/generate-content/webhook/pickup", json={}, headers=scheduler)
    assert response.status_code == 200, response.text
    assert response.json() == {"picked": 1, "completed": 1, "given_up": 0}
    assert len(await world.posts()) == 1


async def test_two_pickups_racing_finish_each_delivery_once(world: World) -> None:
    async with world.db.transaction() as tx:
        other = await f.create_match(tx, world.ws, status="finished", opponent="Harbour City", home_score=0)
    clock = Clock()
    for match in (world.match, other):
        await accepted_then_died(handler(clock), finished_delivery(world, match))
    late = Clock(ahead_seconds=LEASE_SECONDS + 1)
    first, second = await asyncio.gather(handler(late).pickup(), handler(late).pickup())
    assert (first.picked + second.picked, first.completed + second.completed) == (2, 2)
    posts = await world.posts()
    assert sorted(p["dedupe_key"] for p in posts) == sorted(f"match_result:{m['id']}" for m in (world.match, other))
    assert [r["attempts"] for r in await match_receipts(world)] == [2, 2]


async def test_a_pickup_racing_the_late_original_makes_one_post_and_one_result(world: World) -> None:
    original = handler(Clock())
    assert (await original.accept(finished_delivery(world))).duplicate is False
    [work] = original.tasks  # frozen past its lease, then running again alongside the pickup
    recorded_by_original, picked = await asyncio.gather(work, handler(Clock(ahead_seconds=LEASE_SECONDS + 1)).pickup())
    assert int(recorded_by_original) + picked.completed == 1
    [post] = await world.posts()
    [receipt] = await match_receipts(world)
    assert receipt["processed_at"] is not None
    assert str(post["id"]) in json.dumps(receipt["result"])


async def test_a_delivery_whose_work_keeps_dying_is_given_up_and_recorded(world: World) -> None:
    clock = Clock()
    webhooks = handler(clock)
    for _ in range(MAX_ATTEMPTS):  # delivered again after each lease ran out; died each time
        await accepted_then_died(webhooks, finished_delivery(world))
        clock.advance(LEASE_SECONDS + 1)
    assert await webhooks.pickup() == PickupResult(picked=1, given_up=1)
    assert await world.posts() == []
    [receipt] = await match_receipts(world)
    assert receipt["result"] == {"error": "interrupted_repeatedly", "attempts": MAX_ATTEMPTS}


# --- the webhook's decisions (pure) ----------------------------------------------------------------

NOW = datetime(2025, 3, 20, 12, tzinfo=UTC)


def payload(kind: str, record: dict[str, Any] | None, old: dict[str, Any] | None = None, table: str = "matches"):
    return MatchWebhook.model_validate(
        {"type": kind, "table": table, "schema": "public", "record": record, "old_record": old}
    )


@pytest.mark.parametrize(
    ("event", "action"),
    [
        (payload("UPDATE", {"id": "m", "status": "finished"}, {"id": "m", "status": "live"}), "match_result"),
        (payload("UPDATE", {"id": "m", "status": "finished"}, None), "match_result"),
        (payload("UPDATE", {"id": "m", "status": "finished"}, {"id": "m", "status": "finished"}), "ignored"),
        (payload("UPDATE", {"id": "m", "status": "live"}, {"id": "m", "status": "scheduled"}), "ignored"),
        (payload("INSERT", {"id": "m", "status": "scheduled", "kickoff_at": "2025-03-30T15:00:00+00:00"}), "matchday"),
        (payload("INSERT", {"id": "m", "status": "scheduled", "kickoff_at": "2025-03-01T15:00:00+00:00"}), "ignored"),
        (payload("INSERT", {"id": "m", "status": "finished", "kickoff_at": "2025-03-30T15:00:00+00:00"}), "ignored"),
        (payload("INSERT", {"id": "m", "kickoff_at": "next sunday"}), "ignored"),
        (payload("INSERT", {"id": "m", "kickoff_at": "2025-03-30T15:00:00"}), "ignored"),  # no offset
        (payload("INSERT", {"id": 7, "kickoff_at": "2025-03-30T15:00:00+00:00"}), "ignored"),
        (payload("UPDATE", {"id": "m", "status": "finished"}, table="posts"), "ignored"),
        (payload("DELETE", None, {"id": "m", "status": "finished"}), "ignored"),
    ],
)
def test_what_each_change_asks_for(event: MatchWebhook, action: str) -> None:
    assert plan(event, now=NOW)[0] == action


def test_delivery_keys_are_stable_and_distinct() -> None:
    a = payload("UPDATE", {"id": "m", "status": "finished", "x": 1}, {"id": "m", "status": "live"})
    b = MatchWebhook.model_validate(json.loads(json.dumps(a.model_dump(by_alias=True), sort_keys=True)))
    c = payload("UPDATE", {"id": "m", "status": "finished", "x": 2}, {"id": "m", "status": "live"})
    assert delivery_key(a) == delivery_key(b) != delivery_key(c)


def test_matchday_slot_is_the_local_default_time_the_day_before_even_across_dst() -> None:
    ws = {"timezone": "Europe/Amsterdam", "default_post_time": dt_time(18, 0)}
    # Kickoff Monday 31 March 2025; the day before is the spring-forward Sunday (UTC+2 from 02:00).
    slot = matchday_slot(datetime(2025, 3, 31, 18, 45, tzinfo=UTC), ws, now=NOW)
    assert slot == datetime(2025, 3, 30, 16, 0, tzinfo=UTC)
    assert matchday_slot(datetime(2025, 3, 20, 19, tzinfo=UTC), ws, now=NOW) is None  # already passed
    assert matchday_slot(datetime(2027, 3, 20, 19, tzinfo=UTC), ws, now=NOW) is None  # too far ahead
