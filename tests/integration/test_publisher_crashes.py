"""Kill a run between any two steps of the protocol; the next run (once the leases ran out) finishes
every post, and none goes out twice (the sandbox counts media_publish per container and per caption).

A crash is an exception that is not an `Exception`, raised from the injected hooks: the publisher
catches none of those, so the run dies with the database exactly as it was at that step (tasks of
other accounts are cancelled mid-flight too, like a killed process)."""

from __future__ import annotations

import pytest

from sociallab.instagram.sandbox import Fault
from sociallab.scheduling.publisher import PublishHooks, Step
from sociallab.scheduling.publisher_store import ClaimedPost
from tests.plugins.publisher import FAST, PublishWorld

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process died here."""


class CrashAt(PublishHooks):
    def __init__(self, step: Step) -> None:
        self.step = step
        self.fired = 0

    async def at(self, step: Step, post: ClaimedPost) -> None:
        if step == self.step:
            self.fired += 1
            raise Crash(step)


async def _world_with_posts(world: PublishWorld, media_type: str = "IMAGE") -> list[str]:
    ids = []
    for a in range(3):
        account = await world.add_account()
        for p in range(2):
            ids.append(
                await world.add_post(
                    account,
                    caption=f"acct {a} post {p}",
                    media_type=media_type,
                    images=3 if media_type == "CAROUSEL" else 1,
                    due_seconds_ago=600 - p,
                )
            )
    return ids


async def _assert_each_published_exactly_once(world: PublishWorld, ids: list[str]) -> list[dict]:
    posts = [await world.post(i) for i in ids]
    assert [p["status"] for p in posts] == ["published"] * len(ids)
    by_caption = world.sandbox.publishes_by_caption()
    assert sorted(by_caption) == sorted(p["caption"] for p in posts)
    assert set(by_caption.values()) == {1}
    for post in posts:
        assert world.sandbox.publish_count(post["container_id"]) == 1
    media_ids = [p["ig_media_id"] for p in posts if p["ig_media_id"]]
    assert len(media_ids) == len(set(media_ids))
    return posts


@pytest.mark.parametrize("media_type", ["IMAGE", "CAROUSEL"])
@pytest.mark.parametrize(
    "step", ["claimed", "container_created", "container_saved", "container_finished", "published", "recorded"]
)
async def test_a_crash_at_any_step_is_finished_by_the_next_run_exactly_once(
    publish_world: PublishWorld, step: Step, media_type: str
) -> None:
    world = publish_world
    ids = await _world_with_posts(world, media_type)
    hooks = CrashAt(step)

    with pytest.raises(Crash):
        await world.run(hooks=hooks)
    assert hooks.fired >= 1

    # Before the leases run out, nobody may touch the crashed run's accounts or posts.
    blocked = await world.run()
    assert blocked.claimed == 0

    world.clock.advance(FAST.lease_seconds + 1)
    await world.run()

    posts = await _assert_each_published_exactly_once(world, ids)
    # A post whose publish answer never reached the database (the crash at "published", or a worker
    # killed while its media_publish was in flight) is recovered from its container: PUBLISHED.
    recovered = [p for p in posts if p["ig_media_id"] is None]
    for post in recovered:
        assert post["container_id"] and (await world.events(str(post["id"])))[-1]["detail"]["recovered"] is True
    if step == "published":
        assert len(recovered) >= hooks.fired
    if step in ("claimed", "container_created", "container_saved"):
        assert recovered == []  # nothing had been published when those crashed


async def test_a_publish_applied_then_dropped_is_not_published_again(publish_world: PublishWorld) -> None:
    world = publish_world
    ids = await _world_with_posts(world)
    dropped = world.sandbox.faults.add(Fault(kind="publish", action="drop", after=True, count=2))

    first = await world.run()

    assert dropped.fired == 2
    assert first.published == len(ids)  # both lost answers were recovered from the container status
    posts = await _assert_each_published_exactly_once(world, ids)
    assert sum(1 for p in posts if p["ig_media_id"] is None) == 2
    assert world.sandbox.calls["publish"] == len(ids)  # never a second media_publish


async def test_a_publish_timeout_that_did_not_go_out_is_retried_later(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="timed out before publishing")
    world.sandbox.faults.add(Fault(kind="publish", action="error", code=None, http_status=502, count=1))

    first = await world.run()

    post = await world.post(post_id)
    assert first.retried == 1 and post["status"] == "scheduled" and post["container_id"]
    assert world.sandbox.published_media() == []
    world.clock.advance(FAST.backoff_cap_seconds)

    await world.run()

    await _assert_each_published_exactly_once(world, [post_id])
    assert world.sandbox.calls["create"] == 1


async def test_a_crashed_post_is_reclaimed_before_the_accounts_other_posts(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    first = await world.add_post(account, caption="first", due_seconds_ago=600)
    second = await world.add_post(account, caption="second", due_seconds_ago=900)  # due earlier

    with pytest.raises(Crash):
        await world.run(hooks=CrashAt("container_saved"))
    crashed = await world.post(second)
    assert crashed["status"] == "publishing"
    world.clock.advance(FAST.lease_seconds + 1)

    result = await world.run()

    assert result.published == 2
    media = world.sandbox.published_media()
    assert [m["caption"] for m in media] == ["second", "first"]
    assert (await world.post(second))["attempts"] == 2 and (await world.post(first))["attempts"] == 1
