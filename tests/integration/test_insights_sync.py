"""insights-sync against the Instagram sandbox over real HTTP, on one virtual clock (the publisher's world):
the tables fill, a second run writes the same rows, online hours land on the right UTC hour, media values
grow and then freeze, stories are read within their day, and a throttled, revoked or busy account is left
alone without failing the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, LiteralString

import pytest

from sociallab.dev.sandboxes.instagram import Fault
from sociallab.insights_sync import InsightsConfig, InsightsSyncResult, insights_sync
from tests.integration import factories
from tests.plugins.publisher import Account, PublishWorld

pytestmark = pytest.mark.integration

HOUR = 3600.0
EVERY_RUN = InsightsConfig(min_interval_seconds=0.0)


async def sync(world: PublishWorld, config: InsightsConfig = EVERY_RUN) -> InsightsSyncResult:
    return await insights_sync(world.db, world.client(), settings=world.settings, config=config, clock=world.clock)


ROWS: dict[str, LiteralString] = {
    "media_insights": "SELECT * FROM media_insights WHERE instagram_account_id = %(id)s ORDER BY ig_media_id",
    "account_insights": "SELECT * FROM account_insights WHERE instagram_account_id = %(id)s ORDER BY day, metric",
    "audience_online_hours": "SELECT * FROM audience_online_hours WHERE instagram_account_id = %(id)s"
    " ORDER BY weekday, hour",
}


async def rows(world: PublishWorld, table: str, account: Account) -> list[dict[str, Any]]:
    found = await world.db.fetch_all(ROWS[table], {"id": account.id})
    return [{k: v for k, v in row.items() if k not in ("created_at", "updated_at", "fetched_at")} for row in found]


async def account_row(world: PublishWorld, account: Account) -> dict[str, Any]:
    row = await world.db.fetch_one("SELECT * FROM instagram_accounts WHERE id = %(id)s", {"id": account.id})
    assert row is not None
    return row


async def test_a_run_fills_the_tables_and_a_second_run_writes_the_same_rows(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    media_ids = world.sandbox.seed_media(account.ig_user_id, 5, 10 * HOUR)

    first = await sync(world)

    assert (first.accounts, first.synced, first.failed) == (1, 1, 0)
    media = await rows(world, "media_insights", account)
    assert sorted(m["ig_media_id"] for m in media) == sorted(media_ids)
    assert all(m["reach"] > 0 and m["views"] > 0 and m["media_type"] == "IMAGE" for m in media)
    days = await rows(world, "account_insights", account)
    assert {d["metric"] for d in days} == {
        "reach", "views", "accounts_engaged", "total_interactions", "follows_and_unfollows"
    }  # fmt: skip
    assert len({d["day"] for d in days}) == InsightsConfig().backfill_days + 1
    audience = await rows(world, "audience_online_hours", account)
    assert len(audience) == 7 * 24 and {h["samples"] for h in audience} <= {3, 4}  # 27 whole days in 28
    assert (await account_row(world, account))["last_insights_synced_at"] == world.clock.now

    second = await sync(world)  # same instant: the same answers

    assert second.synced == 1 and second.account_days == 0 and second.audience_hours == 0
    assert await rows(world, "media_insights", account) == media
    assert await rows(world, "account_insights", account) == days
    assert await rows(world, "audience_online_hours", account) == audience


async def test_an_account_synced_recently_waits_for_the_next_hour(publish_world: PublishWorld) -> None:
    world = publish_world
    await world.add_account()
    assert (await sync(world, InsightsConfig())).accounts == 1
    world.clock.advance(10 * 60)
    assert (await sync(world, InsightsConfig())).accounts == 0
    world.clock.advance(HOUR)
    assert (await sync(world, InsightsConfig())).accounts == 1


async def test_a_run_syncs_each_account_once(publish_world: PublishWorld) -> None:
    world = publish_world
    await world.add_account()
    await world.add_account()

    result = await sync(world, InsightsConfig(min_interval_seconds=0.0, batch_size=1, run_budget_seconds=5.0))

    assert (result.accounts, result.synced) == (2, 2)


async def test_online_followers_land_on_their_utc_hour(publish_world: PublishWorld) -> None:
    """Instagram keys the hours of 24 h periods ending at 07:00 UTC; the peak stays at its UTC hour."""
    world = publish_world
    account = await world.add_account()
    world.sandbox.accounts[account.ig_user_id].audience_peak_hour = 5

    await sync(world)

    audience = await rows(world, "audience_online_hours", account)
    for weekday in range(7):
        day = [h for h in audience if h["weekday"] == weekday]
        assert max(day, key=lambda h: h["followers_online"])["hour"] == 5


async def test_media_values_grow_for_48_hours_then_are_no_longer_read(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    [media_id] = world.sandbox.seed_media(account.ig_user_id, 1, HOUR)
    reach = []
    for hours in (0, 20, 20):  # 1 h, 21 h and 41 h old
        world.clock.advance(hours * HOUR)
        await sync(world)
        [row] = await rows(world, "media_insights", account)
        reach.append(row["reach"])
    assert reach[0] < reach[1] < reach[2]
    world.clock.advance(10 * HOUR)  # 51 h old: one read after 48 h takes the final value
    await sync(world)
    final = (await rows(world, "media_insights", account))[0]
    assert final["reach"] > reach[2]
    calls = world.sandbox.calls["media_insights"]

    world.clock.advance(5 * HOUR)
    result = await sync(world)

    assert world.sandbox.calls["media_insights"] == calls
    assert result.media == 0 and result.synced == 1
    assert (await rows(world, "media_insights", account))[0] == final
    assert media_id == final["ig_media_id"]


async def test_our_published_posts_are_linked_and_stories_read_only_within_their_day(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    account = await world.add_account()
    world.sandbox.accounts[account.ig_user_id].followers_count = 10  # a small account: a story under 5 viewers
    [feed_id] = world.sandbox.seed_media(account.ig_user_id, 1, 2 * HOUR)
    [story_id] = world.sandbox.seed_media(account.ig_user_id, 1, HOUR / 2, "STORIES")
    async with world.db.transaction() as tx:
        post = await factories.create_post(
            tx, world.workspace_id, status="published", instagram_account_id=account.id, ig_media_id=feed_id,
            published_at=world.clock.now - timedelta(hours=2),
        )  # fmt: skip
        story = await factories.create_post(
            tx, world.workspace_id, status="published", instagram_account_id=account.id, ig_media_id=story_id,
            media_type="STORY", published_at=world.clock.now - timedelta(minutes=30),
        )  # fmt: skip

    result = await sync(world)

    media = {m["ig_media_id"]: m for m in await rows(world, "media_insights", account)}
    assert media[feed_id]["post_id"] == post["id"]
    assert media[story_id]["post_id"] == story["id"] and media[story_id]["media_type"] == "STORY"
    # Error 10 (not enough viewers): stored, every metric absent rather than 0.
    assert all(media[story_id][m] is None for m in ("reach", "likes", "views", "total_interactions"))
    assert result.media_unavailable == 1 and result.stories == 1 and result.synced == 1
    # Below 100 followers: no audience profile, no follows_and_unfollows; the other figures are there.
    assert await rows(world, "audience_online_hours", account) == []
    metrics = {d["metric"] for d in await rows(world, "account_insights", account)}
    assert "follows_and_unfollows" not in metrics and "reach" in metrics

    world.clock.advance(25 * HOUR)
    calls = world.sandbox.calls["media_insights"]
    result = await sync(world)
    assert result.stories == 0
    assert world.sandbox.calls["media_insights"] == calls + 1  # the feed post, still settling


async def test_throttled_and_revoked_accounts_are_skipped_and_the_others_synced(publish_world: PublishWorld) -> None:
    world = publish_world
    throttled, revoked, fine = await world.add_account(), await world.add_account(), await world.add_account()
    world.sandbox.throttle(throttled.ig_user_id, 2 * HOUR)
    world.sandbox.revoke_tokens(revoked.ig_user_id)

    result = await sync(world)

    assert result.accounts == 3 and result.synced == 1
    assert result.throttled == 1 and result.paused_accounts == [throttled.id]
    assert result.reauth == 1 and result.reauth_accounts == [revoked.id]
    paused = await account_row(world, throttled)
    assert paused["status"] == "rate_limited" and paused["rate_limited_until"] > world.clock.now
    assert (await account_row(world, revoked))["status"] == "reauth_required"
    assert await rows(world, "media_insights", fine) == []  # no media, but synced
    assert len(await rows(world, "account_insights", fine)) > 0

    again = await sync(world)

    assert (again.accounts, again.skipped_paused, again.skipped_reauth) == (1, 1, 1)


async def test_an_account_near_its_usage_limit_leaves_the_rest_to_publishing(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    world.sandbox.calls_per_hour = 20  # every call uses 5 % of the account's budget
    world.sandbox.seed_media(account.ig_user_id, 20, 3 * HOUR)

    result = await sync(world, InsightsConfig(min_interval_seconds=0.0, usage_ceiling_pct=50.0))

    assert result.usage_paused == 1 and result.partial == 1 and result.graph_calls < 15
    row = await account_row(world, account)
    assert row["status"] == "active" and row["rate_limited_until"] is None  # publishing is not held up
    assert row["insights_paused_until"] > world.clock.now and row["last_insights_synced_at"] is None
    assert (await sync(world)).skipped_paused == 1


async def test_a_failing_account_does_not_stop_the_others(publish_world: PublishWorld) -> None:
    world = publish_world
    broken, fine = await world.add_account(), await world.add_account()
    world.sandbox.faults.add(Fault(kind="any", code=2, http_status=503, ig_user_id=broken.ig_user_id))

    result = await sync(world)

    assert (result.accounts, result.synced, result.failed) == (2, 1, 1)
    assert (await account_row(world, broken))["last_insights_synced_at"] is None
    assert (await account_row(world, broken))["insights_lease_expires_at"] is None  # given back
    assert len(await rows(world, "account_insights", fine)) > 0


async def test_the_per_account_call_budget_is_kept_and_the_rest_read_next_run(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    world.sandbox.seed_media(account.ig_user_id, 30, 20 * HOUR)
    config = InsightsConfig(min_interval_seconds=0.0, max_calls_per_account=12, media_concurrency=1)

    first = await sync(world, config)
    assert first.partial == 1 and first.graph_calls == 12
    second = await sync(world, config)
    third = await sync(world, config)

    assert second.graph_calls <= 12 and third.graph_calls <= 12
    assert len(await rows(world, "media_insights", account)) > first.media


async def test_the_sandbox_refuses_removed_and_story_only_metrics_by_name(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    [feed_id] = world.sandbox.seed_media(account.ig_user_id, 1, HOUR)
    [story_id] = world.sandbox.seed_media(account.ig_user_id, 1, HOUR, "STORIES")
    client = world.client()

    feed = await client.media_insights(feed_id, account.token, metrics=["impressions", "plays", "reach", "likes"])
    story = await client.media_insights(story_id, account.token, metrics=["reach", "likes", "saved", "views"])

    assert set(feed) == {"reach", "likes"} and set(story) == {"reach", "views"}
    assert world.sandbox.calls["media_insights"] == 6  # each refusal named one metric: asked again without it


async def test_account_days_are_read_while_they_settle_and_once_after(publish_world: PublishWorld) -> None:
    world = publish_world
    await world.add_account()
    now = world.clock.now
    world.clock.advance((now.replace(hour=10, minute=0, second=0) + timedelta(days=1) - now).total_seconds())
    await sync(world)  # first sync at 10:00 UTC: today and 7 days back
    assert world.sandbox.calls["account_insights"] == InsightsConfig().backfill_days + 1

    world.clock.advance(HOUR)
    await sync(world)  # 11:00: today and the two days still settling
    assert world.sandbox.calls["account_insights"] == InsightsConfig().backfill_days + 1 + 3

    world.clock.advance(13.5 * HOUR)
    await sync(world)  # 00:30 the next day: and the day that froze at midnight, once
    world.clock.advance(HOUR)
    await sync(world)
    assert world.sandbox.calls["account_insights"] == InsightsConfig().backfill_days + 1 + 3 + 4 + 3
