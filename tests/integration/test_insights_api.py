"""The insights function over HTTP: an account's days, published posts' figures, templates' figures
with the selector's belief; tenancy through the API and through the views under RLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sociallab.db import Database, Row, Tx
from sociallab.dev.loader import load_function
from tests.integration import factories
from tests.plugins.posts import PostsWorld, new_id, user_headers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(database_url: str, posts_storage: None) -> AsyncIterator[httpx.AsyncClient]:
    function = load_function(ROOT / "functions" / "insights" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://insights.test") as c:
        yield c


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def workspace_template(tx: Tx, workspace_id: Any, key: str) -> Row:
    spec = {
        "key": key,
        "name": key.title(),
        "content_type": "match_result",
        "formats": ["feed_4x5"],
        "caption_template": "{home_team} won",
        "layers": [
            {"id": "photo0", "type": "photo", "index": 0, "required": True},
            {"id": "title", "type": "text", "text": "{home_team}", "fallback": "Full time"},
        ],
    }
    return await factories.create_template(
        tx,
        workspace_id,
        key=key,
        name=spec["name"],
        format="feed_4x5",
        content_type="match_result",
        spec=spec,
        caption_template=spec["caption_template"],
    )


async def published(tx: Tx, account: Row, template: Row | None, *, at: datetime, **metrics: int | None) -> Row:
    """A published post; with `metrics`, the media_insights Instagram gave for it."""
    post = await factories.create_post(
        tx,
        account["workspace_id"],
        status="published",
        instagram_account_id=account["id"],
        template_id=template["id"] if template else None,
        content_type="match_result",
        published_at=at,
        scheduled_at=at - timedelta(minutes=1),
    )
    if metrics:
        await factories.insert(
            tx,
            "media_insights",
            {
                "workspace_id": account["workspace_id"],
                "instagram_account_id": account["id"],
                "ig_media_id": post["ig_media_id"],
                "post_id": post["id"],
                "posted_at": at,
                **metrics,
            },
        )
    return post


# --- GET /accounts/{id}/summary ----------------------------------------------------------------


async def test_summary_by_day_with_nulls_where_instagram_gave_nothing(
    client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    account = posts_world.account
    today = datetime.now(UTC).date()
    async with posts_world.db.transaction() as tx:
        await tx.execute(
            "UPDATE instagram_accounts SET followers_count = 1234 WHERE id = %(id)s", {"id": account["id"]}
        )
        for metric, day, value in (
            ("reach", today, 900),
            ("views", today, 2100),
            ("accounts_engaged", today, 80),
            ("total_interactions", today, 120),
            ("follower_count", today, 7),
            ("followers_count", today, 1234),
            ("reach", today - timedelta(days=2), 400),
            ("reach", today - timedelta(days=40), 999),  # outside the window
        ):
            await factories.insert(
                tx,
                "account_insights",
                {
                    "workspace_id": posts_world.ws,
                    "instagram_account_id": account["id"],
                    "metric": metric,
                    "day": day,
                    "value": value,
                },
            )
    body = ok(
        await client.get(
            f"/accounts/{account['id']}/summary", params={"days": 3}, headers=posts_world.headers("viewer")
        )
    )
    assert body["instagram_account_id"] == str(account["id"])
    assert (body["username"], body["followers"]) == ("testfc", 1234)
    assert [d["day"] for d in body["days"]] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert body["days"][2] == {
        "day": today.isoformat(),
        "followers": 1234,
        "new_followers": 7,
        "reach": 900,
        "views": 2100,
        "accounts_engaged": 80,
        "total_interactions": 120,
    }
    assert body["days"][0]["reach"] == 400 and body["days"][0]["views"] is None
    assert set(body["days"][1].values()) == {None, (today - timedelta(days=1)).isoformat()}
    assert (
        len(ok(await client.get(f"/accounts/{account['id']}/summary", headers=posts_world.headers("viewer")))["days"])
        == 28
    )


async def test_summary_of_an_account_outside_the_users_workspaces_is_404(
    client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    for account_id in (posts_world.other_account["id"], new_id()):
        error(
            await client.get(f"/accounts/{account_id}/summary", headers=posts_world.headers("owner")), 404, "not_found"
        )
    response = await client.get(
        f"/accounts/{posts_world.account['id']}/summary", params={"days": 0}, headers=posts_world.headers("owner")
    )
    error(response, 422, "validation_failed")
    error(await client.get(f"/accounts/{posts_world.account['id']}/summary"), 401, "unauthenticated")


# --- GET /posts ----------------------------------------------------------------------------------


async def test_posts_with_their_template_time_and_figures(client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    account = posts_world.account
    now = datetime.now(UTC).replace(microsecond=0)
    async with posts_world.db.transaction() as tx:
        bold = await workspace_template(tx, posts_world.ws, "bold")
        full = await published(
            tx,
            account,
            bold,
            at=now - timedelta(days=3),
            reach=1000,
            likes=40,
            comments=5,
            saved=3,
            shares=2,
            views=2500,
            total_interactions=50,
        )
        partial = await published(tx, account, bold, at=now - timedelta(days=2), reach=500, likes=20)
        bare = await published(tx, account, None, at=now - timedelta(days=1))  # no insights yet
        await factories.create_post(tx, posts_world.ws, status="draft")  # not published: not listed
        other = posts_world.other_account
        await published(tx, other, None, at=now, reach=10, likes=1)  # another workspace's
    body = ok(
        await client.get("/posts", params={"workspace_id": posts_world.ws}, headers=posts_world.headers("viewer"))
    )
    items = {item["post_id"]: item for item in body["items"]}
    assert set(items) == {str(full["id"]), str(partial["id"]), str(bare["id"])}
    assert body["next_cursor"] is None
    assert items[str(full["id"])] | {"insights_fetched_at": None} == {
        "post_id": str(full["id"]),
        "instagram_account_id": str(account["id"]),
        "published_at": (now - timedelta(days=3)).isoformat().replace("+00:00", "Z"),
        "permalink": "https://www.instagram.com/p/test/",
        "media_type": "IMAGE",
        "content_type": "match_result",
        "template": {"id": str(bold["id"]), "key": "bold", "name": "Bold", "format": "feed_4x5"},
        "reach": 1000,
        "likes": 40,
        "comments": 5,
        "saves": 3,
        "shares": 2,
        "views": 2500,
        "interactions": 50,
        "engagement_rate": 0.05,
        "insights_fetched_at": None,
    }
    # Instagram gave reach and likes only: interactions from the parts, the rest null.
    p = items[str(partial["id"])]
    assert (p["interactions"], p["engagement_rate"], p["comments"], p["views"]) == (20, 0.04, None, None)
    b = items[str(bare["id"])]
    assert (b["reach"], b["interactions"], b["engagement_rate"], b["template"]) == (None, None, None, None)


async def test_posts_paginate_and_filter_by_time_and_account(
    client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    now = datetime.now(UTC)
    async with posts_world.db.transaction() as tx:
        made = [await published(tx, posts_world.account, None, at=now - timedelta(days=d), reach=100) for d in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"workspace_id": posts_world.ws, "limit": 2}
    while True:
        page = ok(await client.get("/posts", params=params, headers=posts_world.headers("viewer")))
        seen += [item["post_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(str(p["id"]) for p in made) and len(seen) == 5
    window = {
        "workspace_id": posts_world.ws,
        "from": (now - timedelta(days=2, hours=1)).isoformat(),
        "to": now.isoformat(),
    }
    page = ok(await client.get("/posts", params=window, headers=posts_world.headers("viewer")))
    assert {item["post_id"] for item in page["items"]} == {str(made[1]["id"]), str(made[2]["id"])}
    by_dead_account = {"workspace_id": posts_world.ws, "instagram_account_id": str(posts_world.dead_account["id"])}
    assert ok(await client.get("/posts", params=by_dead_account, headers=posts_world.headers("viewer")))["items"] == []
    foreign = {"workspace_id": posts_world.ws, "instagram_account_id": str(posts_world.other_account["id"])}
    error(await client.get("/posts", params=foreign, headers=posts_world.headers("viewer")), 404, "not_found")
    bad = {"workspace_id": posts_world.ws, "cursor": "nope"}
    error(await client.get("/posts", params=bad, headers=posts_world.headers("viewer")), 400, "bad_request")


# --- GET /templates ------------------------------------------------------------------------------


async def test_templates_with_figures_belief_and_choice_probability(
    client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    account = posts_world.account
    now = datetime.now(UTC)
    async with posts_world.db.transaction() as tx:
        bold = await workspace_template(tx, posts_world.ws, "bold")
        calm = await workspace_template(tx, posts_world.ws, "calm")
        await workspace_template(tx, posts_world.ws, "fresh")  # never used
        for day in range(8):
            await published(tx, account, bold, at=now - timedelta(days=day), reach=1000, total_interactions=90)
            await published(tx, account, calm, at=now - timedelta(days=day, hours=3), reach=1000, total_interactions=30)
        await published(tx, account, calm, at=now - timedelta(days=9))  # published, no insights yet
    params = {"workspace_id": posts_world.ws, "instagram_account_id": str(account["id"])}
    body = ok(await client.get("/templates", params=params, headers=posts_world.headers("viewer")))
    assert body["instagram_account_id"] == str(account["id"])
    items = {item["key"]: item for item in body["items"]}
    assert set(items) == {"bold", "calm", "fresh"}
    b, c, f = items["bold"], items["calm"], items["fresh"]
    assert (b["posts"], b["posts_with_insights"], b["mean_engagement_rate"]) == (8, 8, pytest.approx(0.09))
    assert (c["posts"], c["posts_with_insights"], c["mean_engagement_rate"]) == (9, 8, pytest.approx(0.03))
    assert (f["posts"], f["posts_with_insights"], f["mean_engagement_rate"]) == (0, 0, None)
    prior = 0.06  # the workspace's 16 posts with insights
    assert b["belief"]["mean"] == pytest.approx((prior + 8 * 0.09) / 9)
    assert b["belief"]["low"] < b["belief"]["mean"] < b["belief"]["high"]
    assert f["belief"]["mean"] == pytest.approx(prior)  # the prior: wide
    assert f["belief"]["high"] - f["belief"]["low"] > b["belief"]["high"] - b["belief"]["low"]
    assert sum(i["choice_probability"] for i in items.values()) == pytest.approx(1.0)
    assert b["choice_probability"] > f["choice_probability"] > c["choice_probability"]
    assert ok(await client.get("/templates", params=params, headers=posts_world.headers("viewer"))) == body  # stable
    # Another account of the workspace has no posts: beliefs are the prior, the fallback order decides.
    params["instagram_account_id"] = str(posts_world.dead_account["id"])
    items = {
        i["key"]: i
        for i in ok(await client.get("/templates", params=params, headers=posts_world.headers("viewer")))["items"]
    }
    assert (items["bold"]["choice_probability"], items["calm"]["choice_probability"]) == (1.0, 0.0)
    assert items["bold"]["posts"] == 0


# --- tenancy -------------------------------------------------------------------------------------


async def test_a_viewer_of_another_workspace_reads_none_of_its_figures(
    client: httpx.AsyncClient, posts_world: PostsWorld, db: Database
) -> None:
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        b_viewer = await factories.create_member(tx, posts_world.other_workspace["id"], "viewer")
        await published(tx, posts_world.account, None, at=now, reach=100, likes=5)
        await factories.insert(
            tx,
            "account_insights",
            {
                "workspace_id": posts_world.ws,
                "instagram_account_id": posts_world.account["id"],
                "metric": "reach",
                "day": date.today(),
                "value": 100,
            },
        )
    headers = user_headers(b_viewer["id"])
    error(await client.get(f"/accounts/{posts_world.account['id']}/summary", headers=headers), 404, "not_found")
    error(await client.get("/posts", params={"workspace_id": posts_world.ws}, headers=headers), 403, "forbidden")
    error(await client.get("/templates", params={"workspace_id": posts_world.ws}, headers=headers), 403, "forbidden")
    # B's own workspace, naming A's account: not found.
    mixed = {
        "workspace_id": str(posts_world.other_workspace["id"]),
        "instagram_account_id": str(posts_world.account["id"]),
    }
    error(await client.get("/templates", params=mixed, headers=headers), 404, "not_found")

    # The views under RLS, as a Supabase user: B's viewer sees nothing of A, A's viewer sees A's rows.
    async def visible(user_id: Any) -> tuple[int, int]:
        async with db.transaction() as tx:
            await tx.act_as_user(str(user_id))
            posts = await tx.fetch_val(
                "SELECT count(*) FROM post_performance WHERE workspace_id = %(w)s", {"w": posts_world.ws}
            )
            days = await tx.fetch_val("SELECT count(*) FROM account_daily_insights")
            return int(posts), int(days)

    assert await visible(b_viewer["id"]) == (0, 0)
    assert await visible(posts_world.viewer["id"]) == (1, 1)
