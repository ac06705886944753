"""publish-due against the Instagram sandbox over real HTTP and a real PostgreSQL: each path of the
protocol (DESIGN.md §4) and what each kind of failure does to a post and its account."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sociallab.config import get_settings, reset_settings
from sociallab.crypto import generate_key_setting
from sociallab.dev.loader import load_function
from sociallab.dev.server import build_app
from sociallab.instagram.models import RecentMedia
from sociallab.logging import JsonFormatter
from sociallab.publishing import PublisherConfig
from sociallab.publishing.backoff import backoff_ceiling, backoff_delay
from sociallab.publishing.media import match_media
from sociallab.scheduling.validation import instagram_caption
from sociallab.storage import close_storage
from tests.plugins.publisher import FAST, NOW_ONLY, PublishWorld

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


async def test_a_due_image_post_is_published_once_with_its_media_id_and_permalink(
    publish_world: PublishWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="Full time: 3-1!", hashtags=["#matchday", "derby"])
    later = await world.add_post(account, caption="Not yet", due_seconds_ago=-3600)
    caplog.set_level("DEBUG")

    result = await world.run()

    # What the JSON log lines would carry (every record, httpx's request lines included), and our own
    # records even before formatting: never the token.
    formatted = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert caplog.records and account.token not in formatted
    ours = [r for r in caplog.records if r.name.startswith("sociallab")]
    assert ours and all(account.token not in str(vars(r)) for r in ours)

    assert (result.claimed, result.published, result.retried, result.failed) == (1, 1, 0, 0)
    post = await world.post(post_id)
    media = world.sandbox.published_media()
    assert len(media) == 1
    assert post["status"] == "published"
    assert post["ig_media_id"] == media[0]["id"]
    assert post["permalink"] == media[0]["permalink"]
    assert post["lease_owner"] is None and post["lease_expires_at"] is None
    assert world.sandbox.publish_count(post["container_id"]) == 1
    assert world.sandbox.publishes_by_caption() == {"Full time: 3-1!\n\n#matchday #derby": 1}
    assert (await world.post(later))["status"] == "scheduled"
    kinds = [(e["kind"], e["to_status"]) for e in await world.events(post_id)]
    assert kinds == [
        ("status", "scheduled"),  # its creation (add_post inserts it scheduled)
        ("status", "publishing"),
        ("container.created", None),
        ("status", "published"),
        ("published.details", None),
    ]
    # Four Graph calls: create, status, publish, permalink (the quota is far away: not asked).
    calls = {k: v for k, v in world.sandbox.calls.items() if k != "total"}
    assert calls == {"create": 1, "status": 1, "publish": 1, "permalink": 1}

    again = await world.run()
    assert again.claimed == 0 and len(world.sandbox.published_media()) == 1


async def test_an_accounts_posts_go_one_after_another_in_one_run(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    ids = [await world.add_post(account, caption=f"post {i}", due_seconds_ago=600 - i) for i in range(4)]

    result = await world.run(config=PublisherConfig(**{**FAST.__dict__, "quota_check_threshold": 0}))

    assert result.published == 4 and result.accounts == 1
    published = [await world.post(i) for i in ids]
    assert all(p["status"] == "published" for p in published)
    # Oldest due first, and the quota was read once for the account in this run.
    assert [m["caption"] for m in world.sandbox.published_media()] == [f"post {i}" for i in range(4)]
    assert world.sandbox.calls["limit"] == 1


async def test_carousel_children_are_created_saved_and_published_as_one_album(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="Gallery", media_type="CAROUSEL", images=3)

    result = await world.run()

    assert result.published == 1
    post = await world.post(post_id)
    children = await world.db.fetch_all(
        "SELECT child_container_id FROM post_media WHERE post_id = %(id)s ORDER BY position", {"id": post_id}
    )
    child_ids = [c["child_container_id"] for c in children]
    assert all(child_ids) and post["child_container_ids"] == child_ids
    media = world.sandbox.published_media()
    assert [m["media_type"] for m in media] == ["CAROUSEL_ALBUM"]
    assert world.sandbox.calls["create"] == 4


async def test_a_story_and_a_first_comment(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    story = await world.add_post(account, caption="Matchday story", media_type="STORY", due_seconds_ago=120)
    commented = await world.add_post(account, caption="With a comment", first_comment="#goals #club")

    result = await world.run()

    assert result.published == 2
    media = {m["media_type"]: m for m in world.sandbox.published_media()}
    assert set(media) == {"STORIES", "IMAGE"}
    assert media["STORIES"]["caption"] is None  # stories carry no caption
    post = await world.post(commented)
    assert post["first_comment_id"] == media["IMAGE"]["comments"][0]["id"]
    assert media["IMAGE"]["comments"][0]["text"] == "#goals #club"
    assert (await world.post(story))["status"] == "published"


async def test_a_container_still_processing_is_polled_then_published(publish_world: PublishWorld) -> None:
    world = publish_world
    world.sandbox.container_ready_after = 4.0
    account = await world.add_account()
    post_id = await world.add_post(account, caption="slow image")

    result = await world.run()

    assert result.published == 1
    assert (await world.post(post_id))["status"] == "published"
    assert world.sandbox.calls["status"] >= 2  # IN_PROGRESS was seen, then FINISHED


async def test_a_container_not_ready_within_the_bound_is_given_back_and_finished_later(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    world.sandbox.container_ready_after = 60.0
    account = await world.add_account()
    post_id = await world.add_post(account, caption="very slow image")

    first = await world.run(config=NOW_ONLY)

    post = await world.post(post_id)
    assert (first.published, first.retried) == (0, 1)
    assert post["status"] == "scheduled" and post["container_id"] is not None
    assert post["next_attempt_at"] == world.clock.now + timedelta(seconds=FAST.not_ready_retry_seconds)
    world.clock.advance(60)

    second = await world.run()

    assert second.published == 1
    post = await world.post(post_id)
    assert post["status"] == "published"
    assert world.sandbox.calls["create"] == 1  # the saved container was reused
    assert world.sandbox.publish_count(post["container_id"]) == 1


async def test_instagram_receives_exactly_the_caption_validation_checks(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account()
    posts = {"  Go ##team \n": ["#team"], "   ": []}
    for caption, hashtags in posts.items():
        await world.add_post(account, caption=caption, hashtags=hashtags)

    assert (await world.run()).published == 2

    sent = sorted((m["caption"] or "") for m in world.sandbox.published_media())
    assert sent == sorted(instagram_caption(caption, hashtags) for caption, hashtags in posts.items())
    assert sent == ["", "Go ##team\n\n#team"]
    assert None in [m["caption"] for m in world.sandbox.published_media()]  # no caption at all, not ""


async def test_an_expired_container_is_replaced(publish_world: PublishWorld) -> None:
    world = publish_world
    world.sandbox.container_ready_after = 60.0
    account = await world.add_account()
    post_id = await world.add_post(account, caption="left too long")
    await world.run(config=NOW_ONLY)
    old_container = (await world.post(post_id))["container_id"]
    world.clock.advance(world.sandbox.container_ttl + 1)
    world.sandbox.container_ready_after = 0.0

    await world.run()

    post = await world.post(post_id)
    assert post["status"] == "published" and post["container_id"] != old_container
    assert "container.expired" in [e["kind"] for e in await world.events(post_id)]


async def test_a_rejected_image_fails_the_post_with_a_readable_reason(publish_world: PublishWorld) -> None:
    world = publish_world
    world.sandbox.faults.add(kind="create", code=36003, subcode=2207009, http_status=400, is_transient=False)
    account = await world.add_account()
    post_id = await world.add_post(account, caption="odd ratio")

    result = await world.run()

    post = await world.post(post_id)
    assert result.failed == 1
    assert post["status"] == "failed" and post["failure_reason"] == "instagram_rejected"
    assert "aspect ratio" in post["last_error"] and post["last_error_code"] == "36003/2207009"
    assert world.sandbox.published_media() == []


async def test_a_container_in_error_fails_the_post(publish_world: PublishWorld) -> None:
    world = publish_world
    world.sandbox.reject_images("posts/")
    account = await world.add_account()
    post_id = await world.add_post(account, caption="broken jpeg")

    await world.run()

    post = await world.post(post_id)
    assert (post["status"], post["failure_reason"]) == ("failed", "container_error")


async def test_transient_errors_back_off_without_using_attempts_until_the_window_passes(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    world.sandbox.faults.add(kind="create", code=2, http_status=503, count=1000)  # Instagram is down
    account = await world.add_account()
    post_id = await world.add_post(account, caption="instagram is down", due_seconds_ago=0)
    config = replace(NOW_ONLY, retry_window_seconds=3600, transient_backoff_cap_seconds=600, max_attempts=3)

    delays = []
    while (post := await world.post(post_id))["status"] == "scheduled" and len(delays) < 50:
        result = await world.run(config=config)
        post = await world.post(post_id)
        if post["status"] == "scheduled":
            assert result.retried == 1 and post["attempts"] == 0  # an outage uses no attempt
            delays.append((post["next_attempt_at"] - world.clock.now).total_seconds())
            world.clock.advance(delays[-1])

    assert post["status"] == "failed" and post["failure_reason"] == "retry_window_passed"
    assert post["transient_failures"] == len(delays) > 3  # far more tries than max_attempts allows
    assert all(config.backoff_floor_seconds <= d <= 600 for d in delays)
    assert world.clock.now == post["scheduled_at"] + timedelta(seconds=3600)  # the last try ends the window
    assert "for 1 hour after its time" in post["last_error"] and "try again" not in post["last_error"].lower()
    [notice] = await world.db.fetch_all(
        "SELECT kind, severity, message FROM notifications WHERE workspace_id = %(w)s", {"w": world.workspace_id}
    )
    assert (notice["kind"], notice["severity"]) == ("post.failed", "error")
    assert f"@{account.username} was not published" in notice["message"]


async def test_a_ten_minute_outage_fails_no_post(publish_world: PublishWorld) -> None:
    world = publish_world
    accounts = [await world.add_account() for _ in range(3)]
    posts = [
        await world.add_post(account, caption=f"during the outage {n}", due_seconds_ago=-60 * n)
        for n, account in enumerate(accounts * 3)
    ]
    outage = world.sandbox.faults.add(kind="create", code=1, http_status=500, count=10_000)
    end = world.clock.now + timedelta(minutes=10)
    for _minute in range(30):  # one run a minute, as Cloud Scheduler calls it
        if world.clock.now >= end:
            world.sandbox.faults.clear()
        await world.run()
        world.clock.advance(60)

    rows = [await world.post(post_id) for post_id in posts]
    assert [r["status"] for r in rows] == ["published"] * len(posts)
    assert outage.fired > len(posts)  # every post met the outage, most of them more than once
    assert all(r["attempts"] == 1 for r in rows)  # the one that went through
    assert sum(r["transient_failures"] for r in rows) == outage.fired
    assert len(world.sandbox.published_media()) == len(posts)


async def test_a_post_whose_image_instagram_cannot_fetch_uses_its_attempts(publish_world: PublishWorld) -> None:
    world = publish_world
    world.sandbox.faults.add(kind="create", code=9004, subcode=2207052, http_status=400, count=100)
    account = await world.add_account()
    post_id = await world.add_post(account, caption="a broken image link")
    config = replace(NOW_ONLY, max_attempts=3)

    for _ in range(3):
        await world.run(config=config)
        world.clock.advance(config.backoff_cap_seconds)

    post = await world.post(post_id)
    assert (post["status"], post["failure_reason"], post["attempts"]) == ("failed", "attempts_exhausted", 3)
    assert "could not download the image" in post["last_error"] and "3 times" in post["last_error"]


async def test_a_throttled_account_is_paused_and_its_post_keeps_its_attempt(publish_world: PublishWorld) -> None:
    world = publish_world
    throttled, other = await world.add_account(), await world.add_account()
    world.sandbox.throttle(throttled.ig_user_id, 300)
    waiting = await world.add_post(throttled, caption="waits")
    going = await world.add_post(other, caption="goes")
    start = world.clock.now

    result = await world.run()

    assert result.published == 1 and result.rate_limited == 1 and result.paused_accounts == [throttled.id]
    account = await world.db.fetch_one("SELECT * FROM instagram_accounts WHERE id = %(id)s", {"id": throttled.id})
    post = await world.post(waiting)
    paused_until = account["rate_limited_until"]
    assert account["status"] == "rate_limited"
    # Instagram's regain time (5 min) counts from the throttled call, which the other account's
    # (virtual) waits may have pushed a second or two past `start`.
    assert start + timedelta(minutes=5) <= paused_until <= start + timedelta(minutes=5, seconds=5)
    assert post["status"] == "scheduled" and post["attempts"] == 0
    assert post["next_attempt_at"] == paused_until
    assert (await world.post(going))["status"] == "published"

    world.clock.now = paused_until - timedelta(seconds=1)
    assert (await world.run()).claimed == 0  # still paused
    world.clock.now = paused_until
    assert (await world.run()).published == 1
    account = await world.db.fetch_one("SELECT * FROM instagram_accounts WHERE id = %(id)s", {"id": throttled.id})
    assert account["status"] == "active" and account["rate_limited_until"] is None


async def test_an_invalid_token_parks_the_accounts_posts_and_notifies_once(publish_world: PublishWorld) -> None:
    world = publish_world
    dead, alive = await world.add_account(), await world.add_account()
    world.sandbox.revoke_tokens(dead.ig_user_id)
    first = await world.add_post(dead, caption="dead 1", due_seconds_ago=120)
    later = await world.add_post(dead, caption="dead 2", due_seconds_ago=-86400)
    fine = await world.add_post(alive, caption="alive")

    result = await world.run()

    assert result.parked == 2 and result.published == 1 and result.reauth_accounts == [dead.id]
    account = await world.db.fetch_one("SELECT * FROM instagram_accounts WHERE id = %(id)s", {"id": dead.id})
    assert account["status"] == "reauth_required" and account["publish_lease_owner"] is None
    for post_id in (first, later):
        post = await world.post(post_id)
        assert (post["status"], post["failure_reason"]) == ("failed", "reauth_required")
        assert "reconnect" in post["last_error"].lower()
    assert (await world.post(fine))["status"] == "published"
    notes = await world.db.fetch_all(
        "SELECT * FROM notifications WHERE workspace_id = %(ws)s", {"ws": world.workspace_id}
    )
    assert [n["kind"] for n in notes] == ["instagram.reauth_required"]
    assert (await world.run()).claimed == 0


async def test_near_the_quota_it_is_read_first_and_posts_wait_for_the_window_to_free(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    world.sandbox.publish_limit = 2
    account = await world.add_account()
    ids = [await world.add_post(account, caption=f"quota {i}", due_seconds_ago=600 - i) for i in range(3)]

    result = await world.run(config=PublisherConfig(**{**FAST.__dict__, "quota_check_threshold": 0}))

    assert (result.published, result.rescheduled) == (2, 1)
    first, _, third = [await world.post(i) for i in ids]
    assert third["status"] == "scheduled" and third["attempts"] == 0
    assert third["next_attempt_at"] == first["published_at"] + timedelta(days=1)
    assert third["container_id"] is None  # no container was made for a post that cannot go out
    assert len(world.sandbox.published_media()) == 2
    assert world.sandbox.calls["limit"] == 1  # read once for the account in this run


async def test_far_from_our_own_count_the_quota_answer_of_media_publish_reschedules(
    publish_world: PublishWorld,
) -> None:
    world = publish_world
    world.sandbox.publish_limit = 1  # e.g. the account posted from elsewhere too
    account = await world.add_account()
    first = await world.add_post(account, caption="quota a", due_seconds_ago=600)
    second = await world.add_post(account, caption="quota b", due_seconds_ago=500)

    result = await world.run()

    assert (result.published, result.rescheduled) == (1, 1)
    post = await world.post(second)
    assert post["status"] == "scheduled" and post["attempts"] == 0
    assert post["last_error_code"] == "9/2207042"
    assert post["next_attempt_at"] == (await world.post(first))["published_at"] + timedelta(days=1)
    assert world.sandbox.calls["limit"] == 0
    world.clock.now = post["next_attempt_at"]

    assert (await world.run()).published == 1
    assert world.sandbox.publishes_by_caption() == {"quota a": 1, "quota b": 1}


async def test_publishing_disabled_claims_nothing(publish_world: PublishWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="kill switch")
    world.settings = dataclasses.replace(world.settings, publishing_enabled=False)

    result = await world.run()

    assert result.enabled is False and result.claimed == 0
    assert (await world.post(post_id))["status"] == "scheduled"
    assert world.sandbox.calls["total"] == 0


async def test_a_run_that_lost_its_lease_publishes_nothing(publish_world: PublishWorld) -> None:
    from sociallab.publishing import PublishHooks

    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="taken over")

    class TakenOver(PublishHooks):
        async def at(self, step: str, post: object) -> None:
            if step == "container_finished":  # another run reclaimed the post meanwhile
                await world.db.execute("UPDATE posts SET lease_owner = 'other-run' WHERE id = %(id)s", {"id": post_id})

    result = await world.run(hooks=TakenOver())

    assert result.lost_lease == 1 and result.published == 0
    assert world.sandbox.published_media() == []
    assert (await world.post(post_id))["lease_owner"] == "other-run"


async def test_the_function_needs_the_scheduler_and_answers_counts(
    publish_world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = publish_world
    account = await world.add_account()
    await world.add_post(account, caption="over http")
    await close_storage()  # the function uses the process-wide store, configured like the world's
    app = build_app([load_function(ROOT / "functions" / "publish-due" / "main.py")], settings=get_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        refused = await http.post("/publish-due/", json={})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
        response = await http.post(
            "/publish-due/", json={}, headers={"Authorization": "Bearer publisher-scheduler-secret"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"claimed", "published", "retried", "failed"} <= set(body)
    assert (body["claimed"], body["published"]) == (1, 1)
    assert "IGQ" not in response.text
    await close_storage()


def test_backoff_is_exponential_with_full_jitter() -> None:
    assert [backoff_ceiling(n, base=10, cap=100) for n in range(1, 6)] == [10, 20, 40, 80, 100]
    rng = random.Random(1)
    delays = [backoff_delay(4, base=10, cap=100, rng=rng, floor=1) for _ in range(200)]
    assert all(1 <= d <= 80 for d in delays)
    assert max(delays) > 60 and min(delays) < 20  # spread over the whole window
    with pytest.raises(ValueError):
        backoff_ceiling(0, base=1, cap=1)


async def test_posts_that_cannot_be_published_as_they_are_fail_with_a_reason(publish_world: PublishWorld) -> None:
    world = publish_world
    account_a, account_b, account_c = [await world.add_account() for _ in range(3)]
    no_image = await world.add_post(account_a, caption="nothing to show", images=0)
    one_slide = await world.add_post(account_b, caption="lonely carousel", media_type="CAROUSEL", images=1)
    gone = await world.add_post(account_c, caption="image deleted")
    path = await world.db.fetch_val("SELECT storage_path FROM post_media WHERE post_id = %(id)s", {"id": gone})
    await world.storage.delete(path)

    result = await world.run()

    assert result.failed == 3
    reasons = {(await world.post(i))["failure_reason"] for i in (no_image, one_slide)}
    assert reasons == {"invalid_post"}
    assert (await world.post(gone))["failure_reason"] == "image_missing"
    assert world.sandbox.calls["create"] == 0


async def test_a_token_under_a_key_no_longer_configured_is_retried_not_parked(
    publish_world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = publish_world
    account = await world.add_account()
    post_id = await world.add_post(account, caption="key rotated away")
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", generate_key_setting("k2"))  # k1 was dropped by mistake
    reset_settings()
    world.settings = get_settings()

    result = await world.run(config=NOW_ONLY)

    post = await world.post(post_id)
    status = await world.db.fetch_val("SELECT status FROM instagram_accounts WHERE id = %(id)s", {"id": account.id})
    assert result.retried == 1 and result.parked == 0
    assert post["status"] == "scheduled" and "k1" in post["last_error"]
    assert status == "active"
    assert world.sandbox.calls["total"] == 0


async def test_an_expired_stored_token_parks_without_calling_instagram(publish_world: PublishWorld) -> None:
    world = publish_world
    account = await world.add_account(token_expires_at=world.clock.now - timedelta(hours=1))
    post_id = await world.add_post(account, caption="token ran out")

    result = await world.run()

    assert result.parked == 1
    assert (await world.post(post_id))["failure_reason"] == "reauth_required"
    assert world.sandbox.calls["total"] == 0


def test_a_lost_publish_is_matched_on_its_caption_and_time_never_guessed() -> None:
    at = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)

    def media(media_id: str, caption: str | None, minutes: float) -> RecentMedia:
        return RecentMedia(media_id, caption, at + timedelta(minutes=minutes), f"https://ig/p/{media_id}/")

    feed = [
        media("105", "Full time:  3-1\n\n#fc ", 9),  # the same words, other whitespace
        media("104", "Something else", 8),
        media("103", "Full time: 3-1\n\n#fc", 6),
        media("102", "Full time: 3-1\n\n#fc", 4),
        media("101", "Full time: 3-1\n\n#fc", -30),  # before the container existed (beyond the skew)
        media("100", None, 2),
    ]
    caption = "Full time: 3-1\n\n#fc"

    assert match_media(feed, caption=caption, not_before=at) == feed[3]  # exact, oldest first
    assert match_media(feed, caption=caption, not_before=at, newest=True) == feed[2]
    assert match_media(feed, caption=caption, not_before=at, taken={"102", "103"}) == feed[0]  # loose
    assert match_media(feed, caption=caption, not_before=at, taken={"102", "103", "105"}) is None
    assert match_media(feed, caption=caption, not_before=None, taken={"102", "103", "105"}) == feed[4]
    assert match_media(feed, caption="Never posted", not_before=at) is None
    assert match_media(feed, caption=None, not_before=at) == feed[5]  # the only captionless one
    assert match_media([*feed, media("106", "", 10)], caption=None, not_before=at) is None  # ambiguous
