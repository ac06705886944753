"""The posts function over HTTP: every route, validation, roles, tenancy, listing, best times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.integration import factories
from tests.plugins.posts import PostsWorld, new_id

pytestmark = pytest.mark.integration


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    if code:
        assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def create(client: httpx.AsyncClient, world: PostsWorld, who: str = "editor", **body: Any) -> dict[str, Any]:
    response = await client.post("/", json=world.body(**body), headers=world.headers(who))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


# --- POST / ----------------------------------------------------------------------------------


async def test_create_a_draft_returns_the_post_object(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await create(posts_client, posts_world, alt_text="Players celebrating", first_comment="#more #tags")
    assert post["status"] == "draft"
    assert post["workspace_id"] == posts_world.ws
    assert post["instagram_account_id"] == str(posts_world.account["id"])
    assert post["caption"] == "Full time! 2-1 #matchday"
    assert post["alt_text"] == "Players celebrating"
    assert post["first_comment"] == "#more #tags"
    assert post["scheduled_at"] is None and post["published_at"] is None
    assert post["attempts"] == 0 and post["last_error"] is None
    assert post["ig_media_id"] is None and post["permalink"] is None
    [image] = post["images"]
    assert (image["width"], image["height"]) == (1440, 1800)
    assert image["url"].startswith("http://files.test/storage/v1/object/sign/media/") and "token=" in image["url"]
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in post["events"]] == [("status", None, "draft")]
    assert post["events"][0]["actor"] == f"user:{posts_world.editor['id']}"
    # The signed URL really serves the photo.
    async with posts_world.db.transaction() as tx:
        assert await tx.fetch_val("SELECT count(*) FROM post_media WHERE post_id = %(id)s", {"id": post["id"]}) == 1


async def test_create_with_a_time_schedules_it(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    at = datetime.now(UTC) + timedelta(hours=3)
    post = await create(posts_client, posts_world, scheduled_at=at.isoformat())
    assert post["status"] == "scheduled"
    assert datetime.fromisoformat(post["scheduled_at"]) == at.replace(microsecond=at.microsecond)


async def test_a_naive_time_is_local_to_the_workspace(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    day = (datetime.now(UTC) + timedelta(days=10)).astimezone(amsterdam).date()
    post = await create(posts_client, posts_world, scheduled_at=f"{day.isoformat()}T18:00:00")
    local = datetime.fromisoformat(post["scheduled_at"]).astimezone(amsterdam)
    assert (local.date(), local.hour, local.minute) == (day, 18, 0)
    assert post["scheduled_at"].endswith("Z")


async def test_carousel_and_story(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    ids = [str(a["id"]) for a in posts_world.assets[:3]]
    carousel = await create(posts_client, posts_world, media_type="CAROUSEL", asset_ids=ids)
    assert len(carousel["images"]) == 3
    story = await create(posts_client, posts_world, media_type="STORY", asset_ids=ids[:1])
    assert story["media_type"] == "STORY"


async def test_within_a_minute_ago_means_now(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    before = datetime.now(UTC)
    post = await create(posts_client, posts_world, scheduled_at=(before - timedelta(seconds=30)).isoformat())
    assert post["status"] == "scheduled"
    assert datetime.fromisoformat(post["scheduled_at"]) >= before


@pytest.mark.parametrize(
    ("overrides", "field", "kind"),
    [
        ({"caption": "x" * 2201}, "caption", "string_too_long"),
        ({"caption": " ".join(f"#t{i}" for i in range(31))}, "caption", "too_many_hashtags"),
        ({"caption": "hi", "hashtags": [f"#t{i}" for i in range(31)]}, "hashtags", "too_long"),
        ({"caption": " ".join(f"@p{i}" for i in range(21))}, "caption", "too_many_mentions"),
        ({"media_type": "CAROUSEL"}, "asset_ids", "image_count"),
        ({"media_type": "STORY", "asset_ids": "two"}, "asset_ids", "list_type"),
        ({"scheduled_at": "2001-01-01T00:00:00Z"}, "scheduled_at", "in_past"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at", "datetime_from_date_parsing"),
        ({"media_type": "REEL"}, "media_type", "literal_error"),
        ({"asset_ids": []}, "asset_ids", "too_short"),
        ({"alt_text": "a" * 1001}, "alt_text", "string_too_long"),
        ({"unexpected": 1}, "unexpected", "extra_forbidden"),
        ({"hashtags": ["two words"]}, "hashtags.0", "hashtag"),
    ],
)
async def test_create_validation(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld, overrides: dict[str, Any], field: str, kind: str
) -> None:
    response = await posts_client.post("/", json=posts_world.body(**overrides), headers=posts_world.headers("editor"))
    details = error(response, 422)["details"]
    assert (field, kind) in [(d["field"], d["type"]) for d in details], details


async def test_create_story_with_two_images_is_refused(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    ids = [str(a["id"]) for a in posts_world.assets[:2]]
    response = await posts_client.post(
        "/", json=posts_world.body(media_type="STORY", asset_ids=ids), headers=posts_world.headers("editor")
    )
    assert error(response, 422)["details"][0]["type"] == "image_count"


async def test_carousel_of_eleven_is_refused(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    ids = [str(posts_world.assets[0]["id"])] * 11
    response = await posts_client.post(
        "/", json=posts_world.body(media_type="CAROUSEL", asset_ids=ids), headers=posts_world.headers("editor")
    )
    error(response, 422, "validation_failed")


async def test_assets_must_be_ready_and_of_the_workspace(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    cases = [
        ([str(posts_world.processing_asset["id"])], "asset_not_ready"),
        ([str(posts_world.other_asset["id"])], "not_found"),
        ([new_id()], "not_found"),
    ]
    for asset_ids, kind in cases:
        response = await posts_client.post(
            "/", json=posts_world.body(asset_ids=asset_ids), headers=posts_world.headers("editor")
        )
        assert error(response, 422)["details"][0]["type"] == kind


async def test_the_account_must_be_of_the_workspace_and_usable(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    h = posts_world.headers("editor")
    other = posts_world.body(instagram_account_id=str(posts_world.other_account["id"]))
    assert error(await posts_client.post("/", json=other, headers=h), 422)["details"][0]["type"] == "not_found"
    dead = posts_world.body(instagram_account_id=str(posts_world.dead_account["id"]), scheduled_at=future())
    body = error(await posts_client.post("/", json=dead, headers=h), 422)
    assert body["details"][0]["type"] == "reauth_required"
    assert "@oldfc must be reconnected" in body["message"]
    # A draft for an account that needs reconnecting is fine: it is not going anywhere yet.
    draft = posts_world.body(instagram_account_id=str(posts_world.dead_account["id"]))
    assert (await posts_client.post("/", json=draft, headers=h)).status_code == 201


async def test_approval_required_editor_posts_wait_owner_posts_do_not(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    await posts_world.set_approval(True)
    by_editor = await create(posts_client, posts_world, "editor", scheduled_at=future())
    assert by_editor["status"] == "pending_approval"
    by_owner = await create(posts_client, posts_world, "owner", scheduled_at=future())
    assert by_owner["status"] == "scheduled"
    assert by_owner["approved_at"] is not None
    assert (await create(posts_client, posts_world, "editor"))["status"] == "draft"


async def test_roles_and_tenancy_on_create(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    body = posts_world.body()
    error(await posts_client.post("/", json=body), 401, "unauthenticated")
    error(await posts_client.post("/", json=body, headers=posts_world.headers("viewer")), 403, "forbidden")
    error(await posts_client.post("/", json=body, headers=posts_world.headers("stranger")), 403, "forbidden")
    error(await posts_client.post("/", content=b"{", headers=posts_world.headers("editor")), 400, "bad_request")


# --- GET /{id}, tenancy ---------------------------------------------------------------------------


async def test_get_one_post_with_events(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await create(posts_client, posts_world)
    response = await posts_client.get(f"/{post['id']}", headers=posts_world.headers("viewer"))
    assert response.status_code == 200
    assert response.json()["id"] == post["id"]
    assert [e["to_status"] for e in response.json()["events"]] == ["draft"]


async def test_posts_of_other_workspaces_are_404_for_every_route(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    async with posts_world.db.transaction() as tx:
        theirs = await factories.create_post(tx, posts_world.other_workspace["id"], status="scheduled")
    pid = str(theirs["id"])
    h = posts_world.headers("owner")
    calls = [
        posts_client.get(f"/{pid}", headers=h),
        posts_client.patch(f"/{pid}", json={"caption": "mine now"}, headers=h),
        posts_client.post(f"/{pid}/approve", json={}, headers=h),
        posts_client.post(f"/{pid}/schedule", json={"scheduled_at": future()}, headers=h),
        posts_client.post(f"/{pid}/cancel", headers=h),
        posts_client.post(f"/{pid}/retry", json={}, headers=h),
        posts_client.get(f"/{new_id()}", headers=h),
    ]
    for call in calls:
        error(await call, 404, "not_found")
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one("SELECT status, caption FROM posts WHERE id = %(id)s", {"id": pid})
    assert row == {"status": "scheduled", "caption": "Full time! What a match."}


async def test_viewers_read_but_do_not_write(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await create(posts_client, posts_world)
    h = posts_world.headers("viewer")
    assert (await posts_client.get(f"/{post['id']}", headers=h)).status_code == 200
    for call in [
        posts_client.patch(f"/{post['id']}", json={"caption": "x"}, headers=h),
        posts_client.post(f"/{post['id']}/schedule", json={"scheduled_at": future()}, headers=h),
        posts_client.post(f"/{post['id']}/cancel", headers=h),
        posts_client.post(f"/{post['id']}/approve", json={}, headers=h),
        posts_client.post(f"/{post['id']}/retry", json={}, headers=h),
    ]:
        error(await call, 403, "forbidden")


# --- GET / -----------------------------------------------------------------------------------------


async def test_list_paginates_with_an_opaque_cursor(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    created = [(await create(posts_client, posts_world))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"workspace_id": posts_world.ws, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await posts_client.get("/", params=params, headers=posts_world.headers("viewer"))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))  # newest first, nothing twice, nothing lost


async def test_list_filters(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    draft = await create(posts_client, posts_world)
    soon = await create(posts_client, posts_world, scheduled_at=future(2))
    later = await create(posts_client, posts_world, scheduled_at=future(48))
    async with posts_world.db.transaction() as tx:
        await factories.create_post(tx, posts_world.other_workspace["id"], status="scheduled")

    async def ids(**params: Any) -> list[str]:
        response = await posts_client.get(
            "/", params={"workspace_id": posts_world.ws, **params}, headers=posts_world.headers("viewer")
        )
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids() == [later["id"], soon["id"], draft["id"]]
    assert await ids(status="draft") == [draft["id"]]
    assert await ids(status="scheduled") == [later["id"], soon["id"]]
    assert await ids(**{"from": future(24)}) == [later["id"]]
    assert await ids(to=future(24)) == [soon["id"]]
    assert await ids(instagram_account_id=str(posts_world.other_account["id"])) == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 101}, 422),
        ({"limit": 0}, 422),
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "eyJ4IjoxfQ"}, 400),  # base64 of {"x":1}
        ({"status": "lost"}, 422),
        ({"from": "yesterday"}, 422),
    ],
)
async def test_list_rejects_bad_parameters(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld, params: dict[str, Any], status: int
) -> None:
    response = await posts_client.get(
        "/", params={"workspace_id": posts_world.ws, **params}, headers=posts_world.headers("viewer")
    )
    error(response, status)


async def test_list_needs_membership(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    params = {"workspace_id": str(posts_world.other_workspace["id"])}
    error(await posts_client.get("/", params=params, headers=posts_world.headers("owner")), 403, "forbidden")


# --- GET /best-times ---------------------------------------------------------------------------------


async def test_best_times_from_audience_data(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    async with posts_world.db.transaction() as tx:
        for weekday in range(7):
            for hour, online in ((9, 100), (18, 400), (21, 250)):
                await factories.insert(
                    tx,
                    "audience_online_hours",
                    {
                        "workspace_id": posts_world.ws,
                        "instagram_account_id": posts_world.account["id"],
                        "weekday": weekday,
                        "hour": hour,
                        "followers_online": online + weekday,
                    },
                )
    response = await posts_client.get(
        "/best-times",
        params={"instagram_account_id": str(posts_world.account["id"]), "count": 3},
        headers=posts_world.headers("viewer"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Europe/Amsterdam"
    slots = body["slots"]
    assert len(slots) == 3
    now = datetime.now(UTC)
    for slot in slots:
        at = datetime.fromisoformat(slot["at"])
        assert now < at <= now + timedelta(days=7)
        assert at.hour == 18  # the evening peak, every day
        assert slot["reason"].endswith("% of your followers' peak are online")
    assert [s["score"] for s in slots] == sorted((s["score"] for s in slots), reverse=True)
    assert slots[0]["score"] == 1.0


async def test_best_times_learn_from_own_posts_and_avoid_taken_slots(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    account = posts_world.account
    now = datetime.now(UTC)
    first_evening = (now + timedelta(hours=1)).replace(hour=18, minute=0, second=0, microsecond=0)
    if first_evening <= now:
        first_evening += timedelta(days=1)
    async with posts_world.db.transaction() as tx:
        for weekday in range(7):  # the audience peaks at 18:00 UTC, 21:00 has 80 % of it
            for hour, online in ((18, 500), (21, 400)):
                row = {"workspace_id": posts_world.ws, "instagram_account_id": account["id"], "weekday": weekday}
                await factories.insert(tx, "audience_online_hours", {**row, "hour": hour, "followers_online": online})
        # Twenty posts at 21:00 UTC (22:00 or 23:00 in Amsterdam) engaged twice as much as twenty at 18:00.
        for day in range(1, 21):
            for hour, interactions in ((21, 100), (18, 50)):
                await factories.insert(
                    tx,
                    "media_insights",
                    {
                        "workspace_id": posts_world.ws,
                        "instagram_account_id": account["id"],
                        "ig_media_id": new_id(),
                        "posted_at": (now - timedelta(days=day)).replace(hour=hour, minute=5),
                        "reach": 1000,
                        "total_interactions": interactions,
                    },
                )
        # The account already posts on the first evening at 21:30.
        await factories.create_post(
            tx,
            posts_world.ws,
            status="scheduled",
            instagram_account_id=account["id"],
            scheduled_at=first_evening + timedelta(hours=3, minutes=30),
        )
    response = await posts_client.get(
        "/best-times",
        params={"instagram_account_id": str(account["id"]), "count": 7},
        headers=posts_world.headers("viewer"),
    )
    assert response.status_code == 200, response.text
    slots = response.json()["slots"]
    ats = [datetime.fromisoformat(s["at"]) for s in slots]
    assert len(slots) == 7
    assert all(at.hour == 21 for at in ats[:6])  # learnt: 21:00 beats the bigger audience at 18:00
    assert first_evening + timedelta(hours=3) not in ats  # taken
    assert "posts around" in slots[0]["reason"] and "your average engagement" in slots[0]["reason"]
    assert slots[0]["score"] == 1.0


async def test_best_times_default_without_data(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    response = await posts_client.get(
        "/best-times",
        params={"instagram_account_id": str(posts_world.account["id"])},
        headers=posts_world.headers("editor"),
    )
    slots = response.json()["slots"]
    assert len(slots) == 5
    for slot in slots:
        local = datetime.fromisoformat(slot["at"]).astimezone(ZoneInfo("Europe/Amsterdam"))
        assert (local.hour, local.minute) == (18, 0)
        assert slot["reason"] == "workspace default"
    assert [s["at"] for s in slots] == sorted(s["at"] for s in slots)


async def test_best_times_of_another_workspace_account_is_404(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    for account_id in (str(posts_world.other_account["id"]), new_id()):
        response = await posts_client.get(
            "/best-times", params={"instagram_account_id": account_id}, headers=posts_world.headers("owner")
        )
        error(response, 404, "not_found")
    response = await posts_client.get(
        "/best-times",
        params={"instagram_account_id": str(posts_world.account["id"]), "count": 99},
        headers=posts_world.headers("owner"),
    )
    error(response, 422)
