"""publish-due on time and through trouble: a run takes the posts of its tick and publishes each at its time
(never before), stops retrying a post whose runs keep dying, and finishes what it holds when claiming fails."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from sociallab.db import Database
from sociallab.publishing import PublishHooks, Step, publish_due
from sociallab.publishing.store import ClaimedPost
from tests.plugins.publisher import FAST, PublishWorld

pytestmark = pytest.mark.integration


def published_at(world: PublishWorld) -> dict[str, datetime]:
    """When the sandbox received each media_publish, by caption (on the world clock)."""
    return {
        m["caption"]: datetime.fromtimestamp(m["published_at"], tz=world.clock.now.tzinfo)
        for m in world.sandbox.published_media()
    }


async def test_posts_due_within_the_tick_go_out_at_their_time_never_before(publish_world: PublishWorld) -> None:
    # One account: its posts go out one after another, so the world clock (which any wait moves for
    # everyone) is exactly the time each would see.
    world = publish_world
    tick = world.clock.now
    account = await world.add_account()
    due = [await world.add_post(account, caption=f"in {s} s", due_seconds_ago=-s) for s in (7, 40, 55)]
    far = await world.add_post(account, caption="in 200 s", due_seconds_ago=-200)

    result = await world.run()

    assert result.published == 3
    sent = published_at(world)
    for post_id in due:
        post = await world.post(post_id)
        assert post["status"] == "published"
        assert sent[post["caption"]] == post["scheduled_at"] == post["published_at"]  # at its time, to the second
        # its container was made ahead (prepare_seconds), so nothing but the publish call waits for the time
        expected = max(tick, post["scheduled_at"] - timedelta(seconds=FAST.prepare_seconds))
        assert post["container_created_at"] == expected
    assert (await world.post(far))["status"] == "scheduled"  # beyond the run's reach: a later run's


async def test_a_post_already_late_goes_out_at_once(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="five minutes late", due_seconds_ago=300)
    start = world.clock.now

    await world.run()

    post = await world.post(post_id)
    assert post["status"] == "published"
    assert post["published_at"] == start + timedelta(seconds=FAST.poll_initial_delay)  # only the container's wait


class DieAt(PublishHooks):
    """Every run dies at `step` (e.g. the process runs out of memory on this post)."""

    def __init__(self, step: Step) -> None:
        self.step = step

    async def at(self, step: Step, post: ClaimedPost) -> None:
        if step == self.step:
            raise Died(step)


class Died(BaseException):
    """The process died here."""


async def test_a_post_whose_runs_keep_dying_fails_with_a_reason_instead_of_forever(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="kills the publisher")
    dying = DieAt("container_finished")
    runs = 0
    while (await world.post(post_id))["status"] == "publishing" or runs == 0:
        runs += 1
        assert runs <= FAST.max_attempts + 1, "reclaimed forever"
        try:
            await world.run(hooks=dying)
        except Died:
            world.clock.advance(FAST.lease_seconds + 1)  # the dead run's lease runs out

    post = await world.post(post_id)
    assert (post["status"], post["failure_reason"]) == ("failed", "interrupted_repeatedly")
    assert f"interrupted {FAST.max_attempts} times" in post["last_error"]
    assert world.sandbox.published_media() == []
    assert world.sandbox.calls["create"] == 1  # its container was made once and reused by every run
    assert (
        await world.db.fetch_val(
            "SELECT count(*) FROM notifications WHERE dedupe_key = %(k)s", {"k": f"post.failed:{post_id}"}
        )
        == 1
    )


async def test_a_post_whose_container_went_out_before_the_runs_died_is_recorded_not_failed(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="went out, then the run died")
    for _ in range(FAST.max_attempts + 1):
        try:
            await world.run(hooks=DieAt("published"))
        except Died:
            world.clock.advance(FAST.lease_seconds + 1)
    await world.run()

    post = await world.post(post_id)
    assert post["status"] == "published" and world.sandbox.publish_count(post["container_id"]) == 1


class WaitForClaimFailure(PublishHooks):
    """Holds one account's post just before it publishes until the run has failed to claim more."""

    def __init__(self, db: Database, caption: str) -> None:
        self.db, self.caption = db, caption

    async def at(self, step: Step, post: ClaimedPost) -> None:
        if step != "container_finished" or post.caption != self.caption:
            return
        for _ in range(2000):  # bounded: polls the outage's counter, a condition, not a time
            if await self.db.fetch_val("SELECT is_called FROM claim_outage"):
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the run never tried to claim again")


async def test_a_database_error_while_claiming_lets_the_posts_in_flight_finish(publish_world: PublishWorld) -> None:
    world = publish_world
    fast, slow, waiting = await world.add_account(), await world.add_account(), await world.add_account()
    quick = await world.add_post(fast, caption="quick", due_seconds_ago=300)
    held = await world.add_post(slow, caption="in flight", due_seconds_ago=299)
    late = await world.add_post(waiting, caption="claimed in the outage", due_seconds_ago=10)
    # The database fails the claim of the third account's post, as a dropped connection would (SQLSTATE 57P01).
    await world.db.execute("CREATE SEQUENCE claim_outage")
    await world.db.execute(
        """CREATE FUNCTION fail_claim() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.status = 'publishing' AND NEW.caption = 'claimed in the outage' THEN
                   PERFORM nextval('claim_outage');
                   RAISE EXCEPTION 'terminating connection' USING ERRCODE = '57P01';
               END IF;
               RETURN NEW;
           END $$"""
    )
    await world.db.execute(
        "CREATE TRIGGER fail_claim BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION fail_claim()"
    )
    config = replace(FAST, concurrency=2, batch_size=2)

    result = await world.run(config=config, hooks=WaitForClaimFailure(world.db, "in flight"))

    assert result.errors == 1 and result.published == 2
    assert [(await world.post(i))["status"] for i in (quick, held, late)] == ["published", "published", "scheduled"]
    await world.db.execute("DROP TRIGGER fail_claim ON posts")
    assert (await world.run()).published == 1  # the next run takes what was left


async def test_a_run_past_its_budget_gives_its_accounts_back(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    first = await world.add_post(account, caption="first", due_seconds_ago=120)
    second = await world.add_post(account, caption="second", due_seconds_ago=60)
    readings = iter([0.0, 0.0])  # the start, the first claim; from then on the budget is spent

    result = await publish_due(
        world.db,
        world.client(),
        storage=world.storage,
        settings=world.settings,
        config=FAST,
        clock=world.clock,
        sleep=world.clock.sleep,
        monotonic=lambda: next(readings, 10_000.0),
    )

    assert (result.published, result.errors) == (1, 0)
    assert [(await world.post(i))["status"] for i in (first, second)] == ["published", "scheduled"]
    lease = await world.db.fetch_val(
        "SELECT publish_lease_owner FROM instagram_accounts WHERE id = %(id)s", {"id": account.id}
    )
    assert lease is None  # the next run can take the account at once
