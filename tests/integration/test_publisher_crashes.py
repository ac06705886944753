"""Kill a run between any two steps of the protocol; the next run (once the leases ran out) finishes
every post, and none goes out twice (the sandbox counts media_publish per container and per caption).

A crash is an exception that is not an `Exception`, raised from the injected hooks: the publisher
catches none of those, so the run dies with the database exactly as it was at that step (tasks of
other accounts are cancelled mid-flight too, like a killed process)."""

from __future__ import annotations

import pytest

from sociallab.dev.sandboxes.instagram import Fault
from sociallab.publishing import PublishHooks, Step
from sociallab.publishing.store import ClaimedPost
from tests.plugins.publisher import FAST, NOW_ONLY, PublishWorld

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


async def _assert_each_published_exactly_once(
    world: PublishWorld, ids: list[str], *, with_media: bool = True
) -> list[dict]:
    """Every post published once; with `with_media`, each holds the media its own container became."""
    posts = [await world.post(i) for i in ids]
    assert [p["status"] for p in posts] == ["published"] * len(ids)
    by_caption = world.sandbox.publishes_by_caption()
    assert sorted(by_caption) == sorted(p["caption"] for p in posts)
    assert set(by_caption.values()) == {1}
    for post in posts:
        assert world.sandbox.publish_count(post["container_id"]) == 1
    media_ids = [p["ig_media_id"] for p in posts if p["ig_media_id"]]
    assert len(media_ids) == len(set(media_ids))
    if with_media:
        by_container = {m["container_id"]: m for m in world.sandbox.published_media()}
        for post in posts:
            media = by_container[post["container_id"]]
            assert (post["ig_media_id"], post["permalink"]) == (media["id"], media["permalink"])
    return posts


async def _published_event(world: PublishWorld, post_id: str) -> dict:
    [event] = [e for e in await world.events(post_id) if e["to_status"] == "published"]
    return event["detail"]


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

    # Every post holds the media its container became, even one whose publish answer never reached the
    # database (the crash at "published", or a worker killed while its media_publish was in flight): it
    # is recovered from its container (PUBLISHED) and its media found in the account's latest media.
    posts = await _assert_each_published_exactly_once(world, ids)
    recovered = [p for p in posts if (await _published_event(world, str(p["id"])))["recovered"]]
    for post in recovered:
        detail = await _published_event(world, str(post["id"]))
        assert detail["media_lookup"] == "found" and detail["media_id"] == post["ig_media_id"]
    # One lookup per recovered post; plus, after the crash at "recorded" (published, no permalink yet),
    # the next run's backfill: one per account, whatever its number of posts.
    lookups = len(recovered) + (len(world.accounts) if step == "recorded" else 0)
    assert world.sandbox.calls["media_list"] <= lookups
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
    assert first.media_recovered == 2  # and their media found at once, written with `published`
    await _assert_each_published_exactly_once(world, ids)
    assert world.sandbox.calls["publish"] == len(ids)  # never a second media_publish
    assert world.sandbox.calls["media_list"] == 2


async def test_a_lost_publish_whose_lookup_fails_is_completed_by_a_later_runs_backfill(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(
        account, caption="Lost answer", hashtags=["fc"], first_comment="Tickets: link in bio"
    )
    world.sandbox.faults.add(Fault(kind="publish", action="drop", after=True, count=1))
    lookups_fail = world.sandbox.faults.add(Fault(kind="media_list", code=2, http_status=503, count=2))

    first = await world.run()

    # It went out, so it is published, without its media id for now; nothing more was posted.
    post = await world.post(post_id)
    assert (first.published, first.media_recovered, first.retried) == (1, 0, 0)
    assert post["status"] == "published" and post["ig_media_id"] is None and post["permalink"] is None
    assert (await _published_event(world, post_id))["media_lookup"] == "error"
    assert world.sandbox.published_media()[0]["comments"] == []

    second = await world.run()  # the backfill looks again at once: Instagram still fails
    assert (second.claimed, second.media_backfilled) == (0, 0) and lookups_fail.fired == 2
    third = await world.run()  # the next lookup waits (60 s * 2^1): no Graph call
    assert third.media_backfilled == 0 and world.sandbox.calls["media_list"] == 2

    world.clock.advance(FAST.backfill_retry_base_seconds * 2 + 1)
    fourth = await world.run()

    assert fourth.media_backfilled == 1 and world.sandbox.calls["media_list"] == 3
    [media] = world.sandbox.published_media()
    post = await world.post(post_id)
    assert (post["ig_media_id"], post["permalink"]) == (media["id"], media["permalink"])
    assert media["comments"] == [{"id": post["first_comment_id"], "text": "Tickets: link in bio"}]
    # Matched on the caption Instagram got (the text and its hashtags), published once.
    assert world.sandbox.publishes_by_caption() == {"Lost answer\n\n#fc": 1}
    assert world.sandbox.publish_count(post["container_id"]) == 1
    kinds = [e["kind"] for e in await world.events(post_id)]
    assert kinds.count("media.lookup") == 2 and kinds.count("media.recovered") == 1

    world.clock.advance(3600)
    fifth = await world.run()  # complete: never looked up again, never published again
    assert fifth.media_backfilled == 0 and world.sandbox.calls["media_list"] == 3
    assert world.sandbox.calls["publish"] == 1 and world.sandbox.calls["comment"] == 1


async def test_two_lost_publishes_with_the_same_caption_get_their_own_media(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    ids = [await world.add_post(account, caption="Same words", due_seconds_ago=600 - n) for n in range(2)]
    other = await world.add_account()  # the same caption on another account is never a candidate
    other_id = await world.add_post(other, caption="Same words")
    world.sandbox.faults.add(Fault(kind="publish", action="drop", after=True, ig_user_id=account.ig_user_id, count=2))

    result = await world.run()

    assert (result.published, result.media_recovered) == (3, 2)
    posts = [await world.post(i) for i in ids]
    by_container = {m["container_id"]: m["id"] for m in world.sandbox.published_media()}
    assert [p["ig_media_id"] for p in posts] == [by_container[p["container_id"]] for p in posts]
    assert (await world.post(other_id))["ig_media_id"] == by_container[(await world.post(other_id))["container_id"]]


async def test_a_lost_media_that_cannot_be_matched_stays_published_without_an_id(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="Ours")
    world.sandbox.faults.add(Fault(kind="publish", action="drop", after=True, count=1))
    # The only media on the account carries another caption (say, posted from the app meanwhile).
    world.sandbox.faults.add(Fault(kind="media_list", code=2, http_status=503, count=1))
    await world.run()
    [ours] = world.sandbox.published_media()
    ours_media = world.sandbox.media[ours["id"]]
    ours_media.caption = "Edited in the Instagram app"

    world.clock.advance(FAST.backfill_retry_base_seconds * 64)
    for _ in range(3):
        await world.run()
        world.clock.advance(FAST.backfill_retry_cap_seconds)

    post = await world.post(post_id)
    assert post["status"] == "published" and post["ig_media_id"] is None  # never a guess
    assert world.sandbox.calls["publish"] == 1
    world.clock.advance(FAST.backfill_window_seconds)
    calls = world.sandbox.calls["media_list"]
    await world.run()  # past the window: no more lookups
    assert world.sandbox.calls["media_list"] == calls


async def test_a_publish_timeout_that_did_not_go_out_is_retried_later(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="timed out before publishing")
    world.sandbox.faults.add(Fault(kind="publish", action="error", code=None, http_status=502, count=1))

    first = await world.run(config=NOW_ONLY)

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
