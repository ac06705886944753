"""Concurrent runs: 200 due posts over 20 accounts, 4 publish-due runs at once (each with its own
connection pool and HTTP client, as separate instances would have) -> every post published exactly
once, and never two posts of one account in flight at the same moment."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from sociallab.db import Database
from sociallab.publishing import PublisherConfig, PublishHooks, Step
from sociallab.publishing.store import ClaimedPost
from tests.plugins.publisher import FAST, PublishWorld

pytestmark = pytest.mark.integration

ACCOUNTS = 20
POSTS = 200


class InFlight(PublishHooks):
    """Counts, across all runs, the posts of each account between claim and record."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.claims: Counter[str] = Counter()

    async def at(self, step: Step, post: ClaimedPost) -> None:
        if step == "claimed":
            self.claims[post.id] += 1
            self.now[post.account_id] += 1
            self.most[post.account_id] = max(self.most[post.account_id], self.now[post.account_id])
        elif step == "recorded":
            self.now[post.account_id] -= 1
        await asyncio.sleep(0)  # let the other runs interleave at every step


async def test_four_runs_at_once_publish_each_of_200_posts_exactly_once(
    publish_world: PublishWorld, database_url: str
) -> None:
    world = publish_world
    accounts = [await world.add_account() for _ in range(ACCOUNTS)]
    ids = [
        await world.add_post(accounts[i % ACCOUNTS], caption=f"post {i:03d}", due_seconds_ago=1000 - i)
        for i in range(POSTS)
    ]
    hooks = InFlight()
    config = PublisherConfig(**{**FAST.__dict__, "concurrency": 8, "batch_size": 3})
    pools = [Database(database_url, max_size=4) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(
                world.run(config=config, hooks=hooks, db=pool, client=world.client(), seed=n)
                for n, pool in enumerate(pools)
            )
        )
    finally:
        for pool in pools:
            await pool.close()

    assert sum(r.published for r in results) == POSTS
    assert sum(r.claimed for r in results) == POSTS
    assert sum(1 for r in results if r.published) >= 2, "the runs shared the work"
    assert all(r.retried == r.failed == r.lost_lease == r.errors == 0 for r in results)
    posts = await world.posts()
    assert [p["status"] for p in posts] == ["published"] * POSTS
    assert {str(p["id"]) for p in posts} == set(ids)
    assert all(p["attempts"] == 1 for p in posts)
    by_caption = world.sandbox.publishes_by_caption()
    assert len(by_caption) == POSTS and set(by_caption.values()) == {1}
    assert all(world.sandbox.publish_count(p["container_id"]) == 1 for p in posts)
    assert world.sandbox.calls["publish"] == POSTS
    assert set(hooks.claims.values()) == {1}, "no post was claimed twice"
    assert max(hooks.most.values()) == 1, "at most one post in flight per account"
    leases = await world.db.fetch_val("SELECT count(*) FROM instagram_accounts WHERE publish_lease_owner IS NOT NULL")
    assert leases == 0
