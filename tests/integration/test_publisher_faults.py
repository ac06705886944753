"""Injected API faults: with 20 % of calls failing transiently (server errors, timeouts that lose the
answer, dropped connections after publishing) and one account throttled, every post ends `published`
exactly once or `failed` with a reason; the throttled account's posts wait for `rate_limited_until`
while the other accounts go ahead."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sociallab.dev.sandboxes.instagram import Fault
from sociallab.publishing import PublisherConfig
from tests.plugins.publisher import FAST, PublishWorld

pytestmark = pytest.mark.integration

ACCOUNTS = 6
POSTS_PER_ACCOUNT = 5
THROTTLE_SECONDS = 1800


def _faults(world: PublishWorld) -> tuple[list[Fault], list[Fault]]:
    """(faults that fire a fixed number of times, faults that fire at random: ~20 % of calls)."""
    certain = [
        # The worst case for exactly-once: publish applied, then the answer lost.
        Fault(kind="publish", action="drop", after=True, count=3),
        Fault(kind="create", action="drop", after=True, count=2),
        Fault(kind="status", code=None, http_status=502, count=2),
        Fault(kind="publish", code=2, http_status=503, count=2),
    ]
    random = [
        Fault(kind="any", code=-1, subcode=2207001, http_status=500, probability=0.10),
        Fault(kind="any", code=2, http_status=503, probability=0.05),
        Fault(kind="any", code=None, http_status=502, probability=0.03),
        Fault(kind="publish", action="drop", after=True, probability=0.05),
    ]
    return [world.sandbox.faults.add(f) for f in certain], [world.sandbox.faults.add(f) for f in random]


async def test_faults_and_a_throttled_account_end_published_once_or_failed_with_a_reason(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    accounts = [await world.add_account() for _ in range(ACCOUNTS)]
    throttled = accounts[0]
    ids: dict[str, list[str]] = {}
    for a, account in enumerate(accounts):
        ids[account.id] = [
            await world.add_post(account, caption=f"a{a} p{p}", due_seconds_ago=600 - p)
            for p in range(POSTS_PER_ACCOUNT)
        ]
    certain, random = _faults(world)
    world.sandbox.throttle(throttled.ig_user_id, THROTTLE_SECONDS)
    start = world.clock.now
    config = PublisherConfig(**{**FAST.__dict__, "max_attempts": 5})

    first = await world.run(config=config, seed=1)

    # The throttled account is paused (from Instagram's regain time); its posts wait for the pause.
    account = await world.db.fetch_one("SELECT * FROM instagram_accounts WHERE id = %(id)s", {"id": throttled.id})
    paused_until = account["rate_limited_until"]
    assert account["status"] == "rate_limited"
    assert (
        start + timedelta(seconds=THROTTLE_SECONDS)
        <= paused_until
        <= world.clock.now + timedelta(seconds=THROTTLE_SECONDS)
    )
    for post_id in ids[throttled.id]:
        post = await world.post(post_id)
        assert post["status"] == "scheduled"  # held back by the account's pause (checked again at the end)
        assert post["attempts"] <= 1  # the throttled attempt was given back (at most a transient one counts)
    # ... while every other account was worked on in the same run.
    for account_obj in accounts[1:]:
        touched = [await world.post(i) for i in ids[account_obj.id]]
        assert any(p["attempts"] >= 1 for p in touched)
    assert first.published > 0

    # Let time pass (backoffs, the pause) until nothing is left to do.
    for _ in range(40):
        world.clock.advance(300)
        await world.run(config=config, seed=world.clock.now.minute)
        pending = [p for p in await world.posts() if p["status"] in ("scheduled", "publishing")]
        if not pending:
            break

    posts = await world.posts()
    assert [f.fired for f in certain] == [f.count for f in certain]
    assert sum(f.fired for f in certain + random) >= 0.1 * world.sandbox.calls["total"]
    statuses = {p["status"] for p in posts}
    assert statuses <= {"published", "failed"}
    for post in posts:
        if post["status"] == "failed":
            assert post["failure_reason"] and post["last_error"]
    by_caption = world.sandbox.publishes_by_caption()
    assert max(by_caption.values()) == 1, "nothing went out twice"
    published = [p for p in posts if p["status"] == "published"]
    assert sorted(by_caption) == sorted(p["caption"] for p in published)
    for post in published:
        assert world.sandbox.publish_count(post["container_id"]) == 1
    # The throttled account's posts went out only after its pause.
    media = {m["caption"]: m for m in world.sandbox.published_media()}
    for post_id in ids[throttled.id]:
        post = await world.post(post_id)
        if post["status"] == "published":
            assert media[post["caption"]]["published_at"] >= paused_until.timestamp()
    assert len(published) >= len(posts) // 2
