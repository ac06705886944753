"""The post state machine: every allowed and forbidden user transition, the events they write,
races, edits (PATCH) per state, approval, retry, and the create_post service other areas call."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import httpx
import pytest
from psycopg.types.json import Jsonb

from sociallab.db import Row
from sociallab.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestValidationError,
    UnprocessableError,
)
from sociallab.scheduling import states
from sociallab.scheduling.posts import DuplicatePostError, PostImage, create_post, post_for_member, post_out
from sociallab.storage import get_storage
from tests.integration import factories
from tests.plugins.posts import PostsWorld

pytestmark = pytest.mark.integration


def future(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def make_post(world: PostsWorld, status: Any, **overrides: Any) -> Row:
    """A post in `status` with one image, on the world's active account."""
    if status == "pending_approval":
        overrides.setdefault("scheduled_at", datetime.now(UTC) + timedelta(hours=2))
    async with world.db.transaction() as tx:
        post = await factories.create_post(
            tx, world.ws, status=status, instagram_account_id=world.account["id"], **overrides
        )
        await factories.add_post_media(
            tx, post, asset_id=world.assets[0]["id"], storage_path=world.assets[0]["normalized_path"]
        )
    return post


async def events(world: PostsWorld, post_id: Any) -> list[tuple[str, str | None, str | None, str | None]]:
    """The post's events after its creation (which the database records too, also for a post a
    factory inserts: `make_post`)."""
    async with world.db.transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT kind, from_status, to_status, actor FROM post_events"
            " WHERE post_id = %(id)s AND NOT (kind = 'status' AND from_status IS NULL) ORDER BY created_at",
            {"id": post_id},
        )
    return [(r["kind"], r["from_status"], r["to_status"], r["actor"]) for r in rows]


async def status_of(world: PostsWorld, post_id: Any) -> str:
    async with world.db.transaction() as tx:
        return str(await tx.fetch_val("SELECT status FROM posts WHERE id = %(id)s", {"id": post_id}))


ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "approve": ("POST", "/approve", {}),
    "schedule": ("POST", "/schedule", {"scheduled_at": "FUTURE"}),
    "cancel": ("POST", "/cancel", None),
    "retry": ("POST", "/retry", {}),
    "patch": ("PATCH", "", {"caption": "Edited caption"}),
}
# (status, action) -> the status after it, or 409. The owner acts; approval is not required.
TABLE: dict[tuple[str, str], str | int] = {
    ("draft", "approve"): 409,
    ("draft", "schedule"): "scheduled",
    ("draft", "cancel"): "cancelled",
    ("draft", "retry"): 409,
    ("draft", "patch"): "draft",
    ("pending_approval", "approve"): "scheduled",
    ("pending_approval", "schedule"): "scheduled",
    ("pending_approval", "cancel"): "cancelled",
    ("pending_approval", "retry"): 409,
    ("pending_approval", "patch"): "pending_approval",
    ("scheduled", "approve"): 409,
    ("scheduled", "schedule"): "scheduled",
    ("scheduled", "cancel"): "cancelled",
    ("scheduled", "retry"): 409,
    ("scheduled", "patch"): "scheduled",
    ("publishing", "approve"): 409,
    ("publishing", "schedule"): 409,
    ("publishing", "cancel"): 409,
    ("publishing", "retry"): 409,
    ("publishing", "patch"): 409,
    ("published", "approve"): 409,
    ("published", "schedule"): 409,
    ("published", "cancel"): 409,
    ("published", "retry"): 409,
    ("published", "patch"): 409,
    ("failed", "approve"): 409,
    ("failed", "schedule"): 409,
    ("failed", "cancel"): 409,
    ("failed", "retry"): "scheduled",
    ("failed", "patch"): "failed",
    ("cancelled", "approve"): 409,
    ("cancelled", "schedule"): 409,
    ("cancelled", "cancel"): 409,
    ("cancelled", "retry"): 409,
    ("cancelled", "patch"): 409,
}


def test_the_table_covers_every_status_and_action() -> None:
    assert {s for s, _ in TABLE} == set(states.STATUSES)
    assert {a for _, a in TABLE} == set(ACTIONS)
    assert len(TABLE) == len(states.STATUSES) * len(ACTIONS)
    # Every status change the table allows is an edge of DESIGN.md §3's machine.
    for (before, action), after in TABLE.items():
        if isinstance(after, str) and after != before:
            assert states.can_move(before, after), (before, action, after)


@pytest.mark.parametrize(("status", "action"), sorted(TABLE))
async def test_transition_table(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld, status: str, action: str
) -> None:
    post = await make_post(posts_world, status)
    method, suffix, body = ACTIONS[action]
    if body and body.get("scheduled_at") == "FUTURE":
        body = {"scheduled_at": future(5)}
    response = await posts_client.request(
        method, f"/{post['id']}{suffix}", json=body, headers=posts_world.headers("owner")
    )
    expected = TABLE[(status, action)]
    before = await events(posts_world, post["id"])
    if expected == 409:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "conflict"
        assert await status_of(posts_world, post["id"]) == status
        assert before == []  # nothing recorded for a refused change
        return
    assert response.status_code == 200, response.text
    assert response.json()["status"] == expected
    assert await status_of(posts_world, post["id"]) == expected
    actor = f"user:{posts_world.owner['id']}"
    kind = {"patch": "edited", "schedule": "rescheduled" if status == "scheduled" else "status"}.get(action, "status")
    assert before == [(kind, status, expected, actor)]
    assert response.json()["events"][-1]["kind"] == kind


# --- the edges live in the database ------------------------------------------------------------

# Moves a post to %(to)s with every column the target status needs (the CHECKs on posts), so only
# the edge itself can be refused.
MOVE: LiteralString = """
    UPDATE posts
    SET status = %(to)s::text,
        scheduled_at = coalesce(scheduled_at, now()),
        lease_expires_at = now() + interval '5 minutes',
        published_at = coalesce(published_at, now()),
        container_id = coalesce(container_id, 'c-edge'),
        failure_reason = coalesce(failure_reason, 'test')
    WHERE id = %(id)s
"""


async def test_the_database_allows_exactly_the_edges_python_knows(posts_world: PostsWorld) -> None:
    """Both directions: each edge of `states.EDGES` is a change the database makes, and every other
    pair of statuses is refused, whoever sends the UPDATE."""
    allowed: set[tuple[str, str]] = set()
    for before, after in itertools.product(states.STATUSES, repeat=2):
        post = await make_post(posts_world, before)
        try:
            async with posts_world.db.transaction() as tx:
                await tx.execute(MOVE, {"to": after, "id": post["id"]})
        except UnprocessableError as exc:
            final = before == "published" and after != "published"  # the older rule answers first
            assert exc.constraint == ("posts_published_is_final" if final else "posts_status_transition_check")
            assert await status_of(posts_world, post["id"]) == before
        else:
            allowed.add((before, after))
    assert allowed == {(before, after) for before, targets in states.EDGES.items() for after in targets}
    async with posts_world.db.transaction() as tx:
        rows = await tx.fetch_all("SELECT from_status, to_status FROM post_status_edges")
    assert {(r["from_status"], r["to_status"]) for r in rows} == allowed


async def test_a_status_change_is_recorded_with_the_note_of_its_own_statement(posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "scheduled")
    change: LiteralString = (
        "UPDATE posts SET status = %(to)s, lease_expires_at = now() + interval '5 minutes',"
        " status_note = %(note)s WHERE id = %(id)s"
    )
    claim = {"actor": "publish-due", "detail": {"attempt": 1}}
    reschedule = {"kind": "rescheduled", "actor": "user:someone", "detail": {"scheduled_at": "2030-01-01"}}
    async with posts_world.db.transaction() as tx:
        await tx.execute(change, {"to": "publishing", "note": Jsonb(claim), "id": post["id"]})
    async with posts_world.db.transaction() as tx:  # a later write without a note of its own
        await tx.execute("UPDATE posts SET lease_owner = 'run-2' WHERE id = %(id)s", {"id": post["id"]})
        await tx.execute(
            "UPDATE posts SET status = 'scheduled', lease_expires_at = NULL WHERE id = %(id)s", {"id": post["id"]}
        )
    for _ in range(2):  # the same note twice: each change is still its own
        async with posts_world.db.transaction() as tx:
            await tx.execute(change, {"to": "scheduled", "note": Jsonb(reschedule), "id": post["id"]})
    async with posts_world.db.transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT kind, from_status, to_status, actor, detail FROM post_events WHERE post_id = %(id)s"
            " ORDER BY created_at",
            {"id": post["id"]},
        )
    assert [tuple(r.values()) for r in rows] == [
        ("status", None, "scheduled", None, {}),  # the factory's insert
        ("status", "scheduled", "publishing", "publish-due", {"attempt": 1}),
        ("status", "publishing", "scheduled", None, {}),
        ("rescheduled", "scheduled", "scheduled", "user:someone", {"scheduled_at": "2030-01-01"}),
        ("rescheduled", "scheduled", "scheduled", "user:someone", {"scheduled_at": "2030-01-01"}),
    ]


# --- races -------------------------------------------------------------------------------------


async def test_two_owners_approving_at_once_approve_once(posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "pending_approval")
    second_owner = await _member(posts_world, "owner")

    async def approve(user_id: Any) -> str:
        try:
            async with posts_world.db.transaction() as tx:
                row = await post_for_member(tx, str(post["id"]), str(user_id), "editor")
                await states.approve(tx, row, actor_user_id=str(user_id), scheduled_at=None, now=datetime.now(UTC))
            return "ok"
        except ConflictError:
            return "conflict"

    results = await asyncio.gather(approve(posts_world.owner["id"]), approve(second_owner["id"]))
    assert sorted(results) == ["conflict", "ok"]
    assert [e[:3] for e in await events(posts_world, post["id"])] == [("status", "pending_approval", "scheduled")]


async def test_cancel_loses_to_a_publisher_claim_in_flight(posts_world: PostsWorld) -> None:
    """The publisher claims the row (status publishing, lock held); a cancel waits, then gets 409."""
    post = await make_post(posts_world, "scheduled")
    claimed = asyncio.Event()
    release = asyncio.Event()

    async def publisher() -> None:
        async with posts_world.db.transaction() as tx:
            await tx.execute(
                "UPDATE posts SET status = 'publishing', lease_expires_at = now() + interval '5 minutes',"
                ' status_note = \'{"actor": "publish-due"}\' WHERE id = %(id)s',
                {"id": post["id"]},
            )
            claimed.set()
            await release.wait()

    async def cancel() -> str:
        async with posts_world.db.transaction() as tx:
            row = await post_for_member(tx, str(post["id"]), str(posts_world.editor["id"]), "editor")
            assert row["status"] == "scheduled"  # read before the claim commits
            try:
                await states.cancel(tx, row, actor_user_id=str(posts_world.editor["id"]))
            except ConflictError:
                return "conflict"
            return "cancelled"

    claim = asyncio.create_task(publisher())
    await claimed.wait()
    cancelling = asyncio.create_task(cancel())
    await _until_a_backend_waits_on_a_lock(posts_world)
    release.set()
    await claim
    assert await cancelling == "conflict"
    assert await status_of(posts_world, post["id"]) == "publishing"
    assert await events(posts_world, post["id"]) == [("status", "scheduled", "publishing", "publish-due")]


async def _until_a_backend_waits_on_a_lock(world: PostsWorld) -> None:
    for _ in range(10_000):
        async with world.db.transaction() as tx:
            waiting = await tx.fetch_val(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        if waiting:
            return
    raise AssertionError("the cancel never waited for the claim's lock")


async def _member(world: PostsWorld, role: str) -> Row:
    async with world.db.transaction() as tx:
        return await factories.create_member(tx, world.ws, role)  # type: ignore[arg-type]


# --- schedule / approve / retry rules --------------------------------------------------------------


async def test_editor_scheduling_in_an_approval_workspace_waits_for_an_owner(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    await posts_world.set_approval(True)
    post = await make_post(posts_world, "draft")
    pid = post["id"]
    response = await posts_client.post(
        f"/{pid}/schedule", json={"scheduled_at": future()}, headers=posts_world.headers("editor")
    )
    assert response.json()["status"] == "pending_approval"
    denied = await posts_client.post(f"/{pid}/approve", json={}, headers=posts_world.headers("editor"))
    assert denied.status_code == 403
    approved = await posts_client.post(f"/{pid}/approve", json={}, headers=posts_world.headers("owner"))
    assert approved.status_code == 200 and approved.json()["status"] == "scheduled"
    assert approved.json()["approved_at"] is not None
    async with posts_world.db.transaction() as tx:
        assert (
            await tx.fetch_val("SELECT approved_by FROM posts WHERE id = %(id)s", {"id": pid})
            == (posts_world.owner["id"])
        )
    assert [e[2] for e in await events(posts_world, pid)] == ["pending_approval", "scheduled"]


async def test_editors_approve_when_the_workspace_does_not_require_it(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "pending_approval")
    response = await posts_client.post(f"/{post['id']}/approve", json={}, headers=posts_world.headers("editor"))
    assert response.status_code == 200 and response.json()["status"] == "scheduled"


async def test_approving_after_the_time_passed_needs_a_new_time(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "pending_approval", scheduled_at=datetime.now(UTC) - timedelta(hours=1))
    h = posts_world.headers("owner")
    stale = await posts_client.post(f"/{post['id']}/approve", json={}, headers=h)
    assert stale.status_code == 422 and stale.json()["error"]["details"][0]["type"] == "in_past"
    fresh = await posts_client.post(f"/{post['id']}/approve", json={"scheduled_at": future(1)}, headers=h)
    assert fresh.status_code == 200 and fresh.json()["status"] == "scheduled"


async def test_schedule_needs_a_time_and_a_usable_account(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    h = posts_world.headers("editor")
    draft = await make_post(posts_world, "draft")
    missing = await posts_client.post(f"/{draft['id']}/schedule", json={}, headers=h)
    assert missing.status_code == 422
    past = await posts_client.post(f"/{draft['id']}/schedule", json={"scheduled_at": "2020-01-01T00:00:00Z"}, headers=h)
    assert past.status_code == 422
    dead = await make_post(posts_world, "draft")
    await posts_world.db.execute(
        "UPDATE posts SET instagram_account_id = %(a)s WHERE id = %(id)s",
        {"a": posts_world.dead_account["id"], "id": dead["id"]},
    )
    refused = await posts_client.post(f"/{dead['id']}/schedule", json={"scheduled_at": future()}, headers=h)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["type"] == "reauth_required"
    assert await status_of(posts_world, dead["id"]) == "draft"


async def test_reschedule_clears_a_pending_retry(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await make_post(
        posts_world, "scheduled", attempts=2, next_attempt_at=datetime.now(UTC) + timedelta(minutes=3)
    )
    at = datetime.now(UTC) + timedelta(hours=6)
    response = await posts_client.post(
        f"/{post['id']}/schedule", json={"scheduled_at": at.isoformat()}, headers=posts_world.headers("editor")
    )
    assert response.status_code == 200
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one("SELECT * FROM posts WHERE id = %(id)s", {"id": post["id"]})
    assert row is not None
    assert row["next_attempt_at"] is None and row["scheduled_at"] == at and row["status"] == "scheduled"


async def test_retry_resets_attempts_and_clears_the_failure(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "failed", container_id="c-1", last_error_code="2207001")
    before = datetime.now(UTC)
    response = await posts_client.post(f"/{post['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "scheduled" and body["attempts"] == 0
    assert body["last_error"] is None and body["failure_reason"] is None
    assert before <= datetime.fromisoformat(body["scheduled_at"]) <= datetime.now(UTC)
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one("SELECT * FROM posts WHERE id = %(id)s", {"id": post["id"]})
    assert row is not None
    assert row["last_error_code"] is None and row["next_attempt_at"] is None
    assert row["container_id"] == "c-1"  # kept: the publisher checks it before making another


async def test_retry_at_a_time_and_not_on_a_dead_account(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "failed")
    at = future(4)
    response = await posts_client.post(
        f"/{post['id']}/retry", json={"scheduled_at": at}, headers=posts_world.headers("editor")
    )
    assert datetime.fromisoformat(response.json()["scheduled_at"]) == datetime.fromisoformat(at)
    async with posts_world.db.transaction() as tx:
        parked = await factories.create_post(
            tx, posts_world.ws, status="failed", instagram_account_id=posts_world.dead_account["id"]
        )
    response = await posts_client.post(f"/{parked['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert response.status_code == 422
    assert "reconnected" in response.json()["error"]["message"]


# --- PATCH ------------------------------------------------------------------------------------------


async def patch(client: httpx.AsyncClient, world: PostsWorld, post: Row, who: str = "editor", **body: Any) -> Any:
    return await client.patch(f"/{post['id']}", json=body, headers=world.headers(who))


async def test_patch_changes_only_what_is_given(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "draft", alt_text="old alt", first_comment="first!")
    response = await patch(posts_client, posts_world, post, caption="New caption", hashtags=["goal"])
    body = response.json()
    assert response.status_code == 200, response.text
    assert body["caption"] == "New caption" and body["hashtags"] == ["#goal"]
    assert body["alt_text"] == "old alt" and body["first_comment"] == "first!"
    assert body["caption_source"] == "manual"
    cleared = await patch(posts_client, posts_world, post, alt_text=None)
    assert cleared.json()["alt_text"] is None and cleared.json()["caption"] == "New caption"
    async with posts_world.db.transaction() as tx:
        details = await tx.fetch_all(
            "SELECT detail FROM post_events WHERE post_id = %(id)s AND kind = 'edited' ORDER BY created_at",
            {"id": post["id"]},
        )
    assert [d["detail"]["fields"] for d in details] == [["caption", "hashtags"], ["alt_text"]]


async def test_patch_validates_the_merged_post(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "draft", caption=" ".join(f"#t{i}" for i in range(28)))
    response = await patch(posts_client, posts_world, post, hashtags=["#a", "#b", "#c"])
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["type"] == "too_many_hashtags"
    two = [str(a["id"]) for a in posts_world.assets[:2]]
    response = await patch(posts_client, posts_world, post, asset_ids=two)  # an IMAGE post
    assert response.status_code == 422
    response = await patch(posts_client, posts_world, post, asset_ids=[str(posts_world.other_asset["id"])])
    assert response.status_code == 422
    assert await events(posts_world, post["id"]) == []


async def test_patch_replaces_images(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "draft", media_type="CAROUSEL")
    ids = [str(a["id"]) for a in posts_world.assets[1:4]]
    response = await patch(posts_client, posts_world, post, asset_ids=ids)
    assert response.status_code == 200, response.text
    assert len(response.json()["images"]) == 3
    async with posts_world.db.transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT asset_id FROM post_media WHERE post_id = %(id)s ORDER BY position", {"id": post["id"]}
        )
    assert [str(r["asset_id"]) for r in rows] == ids


async def test_patch_time_reschedules_a_scheduled_post(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "scheduled", next_attempt_at=datetime.now(UTC) + timedelta(minutes=2))
    at = future(8)
    response = await patch(posts_client, posts_world, post, scheduled_at=at)
    assert response.status_code == 200
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one(
            "SELECT scheduled_at, next_attempt_at FROM posts WHERE id = %(id)s", {"id": post["id"]}
        )
    assert row == {"scheduled_at": datetime.fromisoformat(at), "next_attempt_at": None}
    cleared = await patch(posts_client, posts_world, post, scheduled_at=None)
    assert cleared.status_code == 422
    past = await patch(posts_client, posts_world, post, scheduled_at="2020-01-01T00:00:00Z")
    assert past.status_code == 422


async def test_patch_content_of_a_post_instagram_already_holds_is_refused(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    post = await make_post(posts_world, "scheduled", container_id="17900001", attempts=1)
    response = await patch(posts_client, posts_world, post, caption="Changed")
    assert response.status_code == 409
    # Rescheduling it is fine: the container stays valid.
    assert (await patch(posts_client, posts_world, post, scheduled_at=future(1))).status_code == 200


async def test_a_first_comment_is_not_part_of_the_container(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    # (A content edit that drops a failed post's container asks Instagram first: test_publisher_evidence.)
    kept = await make_post(posts_world, "failed", container_id="17900003")
    assert (await patch(posts_client, posts_world, kept, first_comment="new comment")).status_code == 200
    async with posts_world.db.transaction() as tx:
        assert await tx.fetch_val("SELECT container_id FROM posts WHERE id = %(id)s", {"id": kept["id"]}) == "17900003"


async def test_editors_cannot_change_an_approved_post(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    await posts_world.set_approval(True)
    post = await make_post(posts_world, "scheduled")
    assert (await patch(posts_client, posts_world, post, caption="sneaky")).status_code == 403
    assert (await patch(posts_client, posts_world, post, scheduled_at=future(3))).status_code == 200
    assert (await patch(posts_client, posts_world, post, "owner", caption="owner edit")).status_code == 200


async def test_the_first_comment_is_part_of_what_was_approved(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    await posts_world.set_approval(True)
    post = await make_post(posts_world, "scheduled", approved_by=posts_world.owner["id"], approved_at=datetime.now(UTC))
    denied = await patch(posts_client, posts_world, post, first_comment="Link in bio: totally-not-spam.example")
    assert denied.status_code == 403
    renewed = await patch(posts_client, posts_world, post, "owner", first_comment="Thanks for the support!")
    assert renewed.status_code == 200
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one("SELECT first_comment, approved_by FROM posts WHERE id = %(id)s", {"id": post["id"]})
    assert row == {"first_comment": "Thanks for the support!", "approved_by": posts_world.owner["id"]}


async def approved_failed_post(world: PostsWorld) -> Row:
    """A post an owner approved, then failed at publishing (e.g. Instagram rejected the image)."""
    return await make_post(
        world,
        "failed",
        scheduled_at=datetime.now(UTC) - timedelta(hours=1),
        approved_by=world.owner["id"],
        approved_at=datetime.now(UTC) - timedelta(hours=2),
    )


async def test_an_edited_failed_post_needs_approval_again_before_it_goes_out(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    """The bypass: edit an approved post once it failed, then retry it straight to scheduled."""
    await posts_world.set_approval(True)
    post = await approved_failed_post(posts_world)
    edited = await patch(posts_client, posts_world, post, caption="Something nobody approved")
    assert edited.status_code == 200 and edited.json()["approved_at"] is None
    retried = await posts_client.post(f"/{post['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending_approval"
    detail = await posts_world.db.fetch_val(
        "SELECT detail FROM post_events WHERE post_id = %(id)s AND kind = 'edited'", {"id": post["id"]}
    )
    assert detail["approval"] == "withdrawn"
    approved = await posts_client.post(
        f"/{post['id']}/approve", json={"scheduled_at": future(1)}, headers=posts_world.headers("owner")
    )
    assert approved.status_code == 200 and approved.json()["status"] == "scheduled"


async def test_a_failed_post_keeps_its_approval_until_its_content_changes(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    await posts_world.set_approval(True)
    untouched = await approved_failed_post(posts_world)
    retried = await posts_client.post(f"/{untouched['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert retried.json()["status"] == "scheduled"
    # An owner's edit renews the approval; an editor's retry then schedules it.
    owned = await approved_failed_post(posts_world)
    assert (await patch(posts_client, posts_world, owned, "owner", alt_text="Players celebrate")).status_code == 200
    retried = await posts_client.post(f"/{owned['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert retried.json()["status"] == "scheduled"
    # A post never approved (approval was switched on after it was scheduled) waits when an editor retries it,
    # and is approved by an owner's retry.
    never = await make_post(posts_world, "failed")
    retried = await posts_client.post(f"/{never['id']}/retry", json={}, headers=posts_world.headers("editor"))
    assert retried.json()["status"] == "pending_approval"
    never_too = await make_post(posts_world, "failed")
    by_owner = await posts_client.post(f"/{never_too['id']}/retry", json={}, headers=posts_world.headers("owner"))
    assert by_owner.json()["status"] == "scheduled" and by_owner.json()["approved_at"] is not None


async def test_patch_account_must_be_of_the_workspace(posts_client: httpx.AsyncClient, posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "scheduled")
    other = await patch(posts_client, posts_world, post, instagram_account_id=str(posts_world.other_account["id"]))
    assert other.status_code == 422
    dead = await patch(posts_client, posts_world, post, instagram_account_id=str(posts_world.dead_account["id"]))
    assert dead.status_code == 422
    none = await patch(posts_client, posts_world, post, instagram_account_id=None)
    assert none.status_code == 422


# --- create_post, the service generate-content calls ------------------------------------------------


async def test_create_post_with_composed_images_and_a_dedupe_key(posts_world: PostsWorld) -> None:
    storage = get_storage()
    path = f"{posts_world.ws}/composed/result.jpg"
    await storage.put(path, b"\xff\xd8composed", "image/jpeg")
    args: dict[str, Any] = {
        "workspace_id": posts_world.ws,
        "actor_user_id": None,
        "instagram_account_id": None,
        "media_type": "IMAGE",
        "caption": "Full time",
        "alt_text": "A scoreboard",
        "first_comment": None,
        "hashtags": ["#matchday"],
        "images": [PostImage(str(posts_world.assets[0]["id"]), path, 1080, 1350)],
        "scheduled_at": None,
        "content_type": "match_result",
        "caption_source": "template",
        "dedupe_key": "match_result:1",
    }
    async with posts_world.db.transaction() as tx:
        row = await create_post(tx, **args)
        out = await post_out(tx, row, storage=storage, with_events=True)
    assert out.status == "draft" and out.instagram_account_id is None
    assert out.content_type == "match_result" and out.caption_source == "template"
    [image] = out.images
    assert (image.width, image.height) == (1080, 1350) and image.url and "composed/result.jpg" in image.url
    assert out.events and out.events[0].actor == "system"
    async with posts_world.db.transaction() as tx:
        with pytest.raises(DuplicatePostError) as exc:
            await create_post(tx, **args)
    assert exc.value.existing_id == str(row["id"])
    assert exc.value.status == 409


async def test_create_post_by_the_system_in_an_approval_workspace_waits(posts_world: PostsWorld) -> None:
    await posts_world.set_approval(True)
    async with posts_world.db.transaction() as tx:
        row = await create_post(
            tx,
            workspace_id=posts_world.ws,
            actor_user_id=None,
            instagram_account_id=str(posts_world.account["id"]),
            media_type="IMAGE",
            caption="Matchday!",
            alt_text=None,
            first_comment=None,
            hashtags=[],
            images=[PostImage(str(posts_world.assets[0]["id"]), None, None, None)],
            scheduled_at=datetime.now(UTC) + timedelta(hours=1),
        )
    assert row["status"] == "pending_approval"


@pytest.mark.parametrize(
    ("zone", "now", "local", "expected"),
    [
        (
            "Europe/Amsterdam",
            datetime(2025, 3, 29, 12, tzinfo=UTC),
            datetime(2025, 3, 30, 18),
            datetime(2025, 3, 30, 16),
        ),
        (
            "Europe/Amsterdam",
            datetime(2025, 3, 29, 12, tzinfo=UTC),
            datetime(2025, 3, 30, 2, 30),
            datetime(2025, 3, 30, 1, 30),
        ),
        (
            "Europe/Amsterdam",
            datetime(2025, 10, 25, 12, tzinfo=UTC),
            datetime(2025, 10, 26, 2, 30),
            datetime(2025, 10, 26, 0, 30),
        ),
        ("America/New_York", datetime(2025, 3, 8, 12, tzinfo=UTC), datetime(2025, 3, 9, 18), datetime(2025, 3, 9, 22)),
        (
            "America/New_York",
            datetime(2025, 11, 1, 12, tzinfo=UTC),
            datetime(2025, 11, 2, 1, 30),
            datetime(2025, 11, 2, 5, 30),
        ),
    ],
)
async def test_create_post_schedules_local_times_across_dst(
    posts_world: PostsWorld, zone: str, now: datetime, local: datetime, expected: datetime
) -> None:
    await posts_world.db.execute(
        "UPDATE workspaces SET timezone = %(z)s WHERE id = %(id)s", {"z": zone, "id": posts_world.ws}
    )
    async with posts_world.db.transaction() as tx:
        row = await create_post(
            tx,
            workspace_id=posts_world.ws,
            actor_user_id=str(posts_world.editor["id"]),
            instagram_account_id=str(posts_world.account["id"]),
            media_type="IMAGE",
            caption="Kick-off!",
            alt_text=None,
            first_comment=None,
            hashtags=[],
            images=[PostImage(str(posts_world.assets[0]["id"]), None, None, None)],
            scheduled_at=local,
            now=now,
        )
    assert row["scheduled_at"] == expected.replace(tzinfo=UTC)


async def test_create_post_refuses_a_template_or_match_of_another_workspace(posts_world: PostsWorld) -> None:
    async with posts_world.db.transaction() as tx:
        template = await factories.create_template(tx, posts_world.other_workspace["id"])
        match = await factories.create_match(tx, posts_world.other_workspace["id"])
    extras: list[dict[str, Any]] = [{"template_id": str(template["id"])}, {"match_id": str(match["id"])}]
    for extra in extras:
        with pytest.raises(UnprocessableError):
            async with posts_world.db.transaction() as tx:
                await create_post(
                    tx,
                    workspace_id=posts_world.ws,
                    actor_user_id=None,
                    instagram_account_id=None,
                    media_type="IMAGE",
                    caption="x",
                    alt_text=None,
                    first_comment=None,
                    hashtags=[],
                    images=[PostImage(str(posts_world.assets[0]["id"]), None, None, None)],
                    scheduled_at=None,
                    **extra,
                )


async def test_a_time_without_an_account_is_refused(posts_world: PostsWorld) -> None:
    with pytest.raises(RequestValidationError):
        async with posts_world.db.transaction() as tx:
            await create_post(
                tx,
                workspace_id=posts_world.ws,
                actor_user_id=None,
                instagram_account_id=None,
                media_type="IMAGE",
                caption="x",
                alt_text=None,
                first_comment=None,
                hashtags=[],
                images=[PostImage(str(posts_world.assets[0]["id"]), None, None, None)],
                scheduled_at=datetime.now(UTC) + timedelta(hours=1),
            )


async def test_an_image_whose_file_is_gone_has_no_url(posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "draft")
    await get_storage().delete(posts_world.assets[0]["normalized_path"])
    async with posts_world.db.transaction() as tx:
        row = await tx.fetch_one("SELECT * FROM posts WHERE id = %(id)s", {"id": post["id"]})
        assert row is not None
        out = await post_out(tx, row, storage=get_storage())
    assert [(i.url, i.width) for i in out.images] == [(None, 1080)]


async def test_post_for_member_hides_and_guards(posts_world: PostsWorld) -> None:
    post = await make_post(posts_world, "draft")
    async with posts_world.db.transaction() as tx:
        with pytest.raises(PermissionDeniedError):
            await post_for_member(tx, str(post["id"]), str(posts_world.viewer["id"]), "editor")
        with pytest.raises(NotFoundError):
            await post_for_member(tx, str(post["id"]), str(posts_world.stranger["id"]))


async def test_approving_or_scheduling_without_an_account_is_422(
    posts_client: httpx.AsyncClient, posts_world: PostsWorld
) -> None:
    async with posts_world.db.transaction() as tx:
        pending = await factories.create_post(
            tx, posts_world.ws, status="pending_approval", scheduled_at=datetime.now(UTC) + timedelta(hours=1)
        )
        draft = await factories.create_post(tx, posts_world.ws)
    h = posts_world.headers("owner")
    approve = await posts_client.post(f"/{pending['id']}/approve", json={}, headers=h)
    assert approve.status_code == 422
    assert approve.json()["error"]["details"][0]["field"] == "instagram_account_id"
    schedule = await posts_client.post(f"/{draft['id']}/schedule", json={"scheduled_at": future()}, headers=h)
    assert schedule.status_code == 422
    assert await status_of(posts_world, pending["id"]) == "pending_approval"
