"""The post state machine (DESIGN.md §3) and the user actions that move posts along it.

    draft -> pending_approval -> scheduled -> publishing -> published
      \\________________________/    |  ^          |
                                    |  '--retry---'   (transient error; next_attempt_at)
                                    v             v
                                cancelled       failed -> scheduled, or pending_approval (user retry)

Every status change is one `UPDATE ... WHERE status = ANY(allowed) RETURNING`, so two racing
changes cannot both pass: the loser gets `ConflictError` (409). The database allows only the
edges of `post_status_edges` and writes each change's `post_events` row itself, from the actor
and detail the statement puts in `posts.status_note` (migrations/012_post_transitions.sql).
`EDGES` below is Python's read-only copy of that table (a test keeps them equal), for messages
and for checking a transition before it is sent. Rules where the issue left a choice:

- Approval: in a workspace with `require_approval`, an editor's scheduled post waits in
  `pending_approval` until an owner approves it; an owner's own posts are approved as they are
  scheduled. An approval covers what the audience will see (APPROVED_FIELDS: caption, hashtags,
  alt text, first comment, images, account). Editors may reschedule an approved post but not
  change any of that while it is scheduled (403). Where the post may still be edited (a failed
  post), any such change drops the approval (an owner's change renews it instead), and a retry
  of a post without a valid approval goes to `pending_approval`, not straight to `scheduled`.
  When the workspace does not require approval, editors may approve too.
- Edits (PATCH) are allowed in draft, pending_approval, scheduled and failed; 409 in publishing,
  published and cancelled (final). Changing what Instagram receives (caption, hashtags, alt
  text, images, account) drops a stale media container; on a scheduled post that already has one
  (an earlier attempt is in flight) it is refused with 409, so a post can never go out twice.
- Retry keeps the container ids: the publisher reads an existing container's status first, so a
  post that did go out is recorded as published rather than posted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from psycopg.types.json import Jsonb

from sociallab.db import Row, Tx
from sociallab.errors import ConflictError, PermissionDeniedError, RequestValidationError
from sociallab.scheduling import times
from sociallab.scheduling.posts import (
    APPROVER_ROLE,
    EDITABLE,
    QUERIES,
    PostImage,
    actor_name,
    can_approve,
    check_account,
    resolve_images,
    workspace_context,
)
from sociallab.scheduling.validation import ImageSize, check_post, normalize_hashtags

# The database's `post_status_edges`, read-only (user actions here; publish-due's claims, retries
# and outcomes, and the parking of a dead token's posts, in sociallab.publishing and .instagram).
EDGES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "draft": frozenset({"pending_approval", "scheduled", "cancelled"}),
        "pending_approval": frozenset({"pending_approval", "scheduled", "cancelled"}),
        "scheduled": frozenset({"scheduled", "publishing", "cancelled", "failed"}),
        "publishing": frozenset({"publishing", "published", "scheduled", "failed"}),
        "published": frozenset(),
        "failed": frozenset({"scheduled", "pending_approval", "published"}),
        "cancelled": frozenset(),
    }
)
STATUSES = tuple(EDGES)
CONTENT_FIELDS = ("instagram_account_id", "caption", "hashtags", "alt_text", "asset_ids")  # in the container
APPROVED_FIELDS = (*CONTENT_FIELDS, "first_comment")  # what an approver approved: all the audience sees


def can_move(from_status: str, to_status: str) -> bool:
    """Whether the machine has the edge `from_status -> to_status`."""
    return to_status in EDGES.get(from_status, frozenset())


def sources(to_status: str, among: Iterable[str]) -> list[str]:
    """The statuses in `among` from which the machine reaches `to_status`."""
    return [s for s in among if can_move(s, to_status)]


async def _transition(
    tx: Tx,
    post: Row,
    *,
    to_status: str,
    allowed: list[str],
    action: str,
    actor_user_id: str | None,
    kind: str = "status",
    scheduled_at: datetime | None = None,
    set_scheduled_at: bool = False,
    set_approved: bool = False,
    reset_attempts: bool = False,
    detail: dict[str, Any] | None = None,
) -> Row:
    for status in allowed:  # the table above is the only source of edges
        if not can_move(status, to_status):
            raise AssertionError(f"{status} -> {to_status} is not an edge of the state machine")
    row = await tx.fetch_one(
        QUERIES["transition"],
        {
            "post_id": str(post["id"]),
            "workspace_id": str(post["workspace_id"]),
            "to_status": to_status,
            "allowed": allowed,
            "scheduled_at": scheduled_at,
            "set_scheduled_at": set_scheduled_at,
            "set_approved": set_approved,
            "reset_attempts": reset_attempts,
            "actor_user_id": str(actor_user_id) if actor_user_id else None,
            "kind": kind,
            "detail": Jsonb({"action": action, **(detail or {})}),
            "actor": actor_name(actor_user_id),
        },
    )
    if row is None:
        raise ConflictError(f"A {post['status'].replace('_', ' ')} post cannot be {_PAST[action]}.")
    return row


_PAST = {"approve": "approved", "schedule": "scheduled", "cancel": "cancelled", "retry": "retried"}


def _conflict_unless(post: Row, allowed: Iterable[str], action: str) -> None:
    if post["status"] not in allowed:
        raise ConflictError(f"A {post['status'].replace('_', ' ')} post cannot be {_PAST[action]}.")


async def _when(tx: Tx, post: Row, value: datetime | None, now: datetime, *, message: str) -> datetime:
    """`value` (or the post's stored time) as a future UTC instant."""
    ws = await workspace_context(tx, str(post["workspace_id"]), None)
    chosen = value or post["scheduled_at"]
    if chosen is None:
        raise RequestValidationError(
            message, details=[{"field": "scheduled_at", "message": "Field required", "type": "missing"}]
        )
    return times.resolve_scheduled_at(chosen, times.zone(ws["timezone"]), now=now)


async def _usable_account(tx: Tx, post: Row) -> None:
    """Raises RequestValidationError unless the post has an account that can publish."""
    if post["instagram_account_id"] is None:
        raise RequestValidationError(
            "Choose an Instagram account before scheduling.",
            details=[{"field": "instagram_account_id", "message": "Field required", "type": "missing"}],
        )
    await check_account(tx, str(post["workspace_id"]), str(post["instagram_account_id"]), must_be_usable=True)


async def approve(tx: Tx, post: Row, *, actor_user_id: str, scheduled_at: datetime | None, now: datetime) -> Row:
    """pending_approval -> scheduled, by an owner (or anyone with write access when the
    workspace no longer requires approval).

    Raises:
        PermissionDeniedError: the actor may not approve.
        ConflictError: the post is not pending approval (or changed meanwhile).
        RequestValidationError: the time has passed (give a new one); the account needs reconnecting.
    """
    ws = await workspace_context(tx, str(post["workspace_id"]), str(actor_user_id))
    if ws["require_approval"] and not can_approve(ws["actor_role"]):
        raise PermissionDeniedError(f"Only an {APPROVER_ROLE} can approve posts in this workspace.")
    _conflict_unless(post, ("pending_approval",), "approve")
    at = await _when(tx, post, scheduled_at, now, message="Give the post a time before approving it.")
    await _usable_account(tx, post)
    return await _transition(
        tx,
        post,
        to_status="scheduled",
        allowed=["pending_approval"],
        action="approve",
        actor_user_id=actor_user_id,
        scheduled_at=at,
        set_scheduled_at=True,
        set_approved=True,
        detail={"scheduled_at": at.isoformat()},
    )


async def schedule(tx: Tx, post: Row, *, actor_user_id: str, scheduled_at: datetime | None, now: datetime) -> Row:
    """Schedule a draft, or reschedule a pending or scheduled post (clears a retry's next_attempt_at).

    A draft or pending post goes to pending_approval when the workspace requires approval and the
    actor is not an owner, else to scheduled (an owner's scheduling approves it).

    Raises:
        ConflictError: the post is publishing, published, failed (use retry) or cancelled.
        RequestValidationError: no or a past time; no account, or it needs reconnecting.
    """
    _conflict_unless(post, ("draft", "pending_approval", "scheduled"), "schedule")
    ws = await workspace_context(tx, str(post["workspace_id"]), str(actor_user_id))
    at = await _when(tx, post, scheduled_at, now, message="Give the post a time to go out.")
    await _usable_account(tx, post)
    current = post["status"]
    needs_approval = ws["require_approval"] and not can_approve(ws["actor_role"])
    target = "scheduled" if current == "scheduled" or not needs_approval else "pending_approval"
    approves = target == "scheduled" and current != "scheduled" and ws["require_approval"]
    return await _transition(
        tx,
        post,
        to_status=target,
        allowed=[current],
        action="schedule",
        actor_user_id=actor_user_id,
        kind="status" if target != current else "rescheduled",
        scheduled_at=at,
        set_scheduled_at=True,
        set_approved=approves,
        detail={"scheduled_at": at.isoformat()},
    )


async def cancel(tx: Tx, post: Row, *, actor_user_id: str) -> Row:
    """draft, pending_approval or scheduled -> cancelled (final).

    Raises:
        ConflictError: the post is publishing (it may already be on Instagram), published,
            failed or cancelled.
    """
    allowed = sources("cancelled", STATUSES)
    _conflict_unless(post, allowed, "cancel")
    return await _transition(
        tx, post, to_status="cancelled", allowed=allowed, action="cancel", actor_user_id=actor_user_id
    )


async def retry(tx: Tx, post: Row, *, actor_user_id: str, scheduled_at: datetime | None, now: datetime) -> Row:
    """failed -> scheduled, now or at `scheduled_at`, with attempts reset and the failure cleared. In a
    workspace that requires approval, a post without a valid approval (never approved, or edited since) goes
    to pending_approval instead, unless an owner retries it (which approves it).

    Raises:
        ConflictError: the post has not failed.
        RequestValidationError: a past time; the account needs reconnecting.
    """
    _conflict_unless(post, ("failed",), "retry")
    ws = await workspace_context(tx, str(post["workspace_id"]), str(actor_user_id))
    at = times.resolve_scheduled_at(scheduled_at, times.zone(ws["timezone"]), now=now) if scheduled_at else now
    await _usable_account(tx, post)
    unapproved = ws["require_approval"] and post["approved_at"] is None
    approver = can_approve(ws["actor_role"])
    return await _transition(
        tx,
        post,
        to_status="pending_approval" if unapproved and not approver else "scheduled",
        allowed=["failed"],
        action="retry",
        actor_user_id=actor_user_id,
        scheduled_at=at,
        set_scheduled_at=True,
        set_approved=unapproved and approver,
        reset_attempts=True,
        detail={"scheduled_at": at.isoformat(), "previous_failure": post["failure_reason"]},
    )


async def update_post(tx: Tx, post: Row, *, actor_user_id: str, changes: dict[str, Any], now: datetime) -> Row:
    """PATCH: change the fields present in `changes` (caption, hashtags, alt_text, first_comment,
    asset_ids, instagram_account_id, scheduled_at) and record an `edited` event.

    Raises:
        ConflictError: the post is publishing, published or cancelled, or a scheduled post whose
            media container exists would change what Instagram receives.
        PermissionDeniedError: an editor changing an approved post's content.
        RequestValidationError: a rule of `validation` is broken, a past time, an account or
            photo not in the workspace, clearing the time or account of a scheduled post.
    """
    workspace_id = str(post["workspace_id"])
    locked = await tx.fetch_one(QUERIES["lock_post"], {"post_id": str(post["id"]), "workspace_id": workspace_id})
    if locked is None or locked["status"] not in EDITABLE:
        status = locked["status"] if locked else "deleted"
        raise ConflictError(f"A {status.replace('_', ' ')} post cannot be edited.")
    ws = await workspace_context(tx, workspace_id, str(actor_user_id))
    status = locked["status"]
    merged = {k: locked[k] for k in ("instagram_account_id", "caption", "hashtags", "alt_text", "first_comment")}
    merged.update({k: v for k, v in changes.items() if k not in ("asset_ids", "scheduled_at")})
    merged["hashtags"] = normalize_hashtags(merged["hashtags"] or [])
    current_images = await _images(tx, locked, None)
    images = current_images
    if changes.get("asset_ids") is not None:
        images = await _images(tx, locked, changes["asset_ids"])
    changed = [k for k in changes if k not in ("scheduled_at", "asset_ids") and _differs(k, changes[k], locked)]
    if [i.asset_id for i in images] != [i.asset_id for i in current_images] or any(
        i.storage_path != c.storage_path for i, c in zip(images, current_images, strict=False)
    ):
        changed.append("asset_ids")
    content_changed = any(k in CONTENT_FIELDS for k in changed)
    approval_changed = any(k in APPROVED_FIELDS for k in changed)
    approver = ws["require_approval"] and can_approve(ws["actor_role"])
    if approval_changed and status == "scheduled" and ws["require_approval"] and not approver:
        raise PermissionDeniedError(f"This post was approved; only an {APPROVER_ROLE} can change its content.")
    if content_changed and status == "scheduled" and locked["container_id"]:
        raise ConflictError("Instagram already holds this post's media from an earlier attempt; it can't change.")
    check_post(
        media_type=locked["media_type"],
        caption=merged["caption"],
        hashtags=merged["hashtags"],
        first_comment=merged["first_comment"],
        alt_text=merged["alt_text"],
        images=[ImageSize(i.width, i.height) for i in images],
    )
    at, rescheduled = await _patched_time(tx, locked, changes, ws["timezone"], now)
    live = status in ("pending_approval", "scheduled")
    if merged["instagram_account_id"] is None and (live or status == "failed"):
        raise RequestValidationError(
            "A scheduled post needs an Instagram account.",
            details=[{"field": "instagram_account_id", "message": "Cannot be cleared now.", "type": "required"}],
        )
    if "instagram_account_id" in changed and merged["instagram_account_id"] is not None:
        await check_account(tx, workspace_id, str(merged["instagram_account_id"]), must_be_usable=live)
    row = await tx.fetch_one(
        QUERIES["update_post_content"],
        {
            "post_id": str(locked["id"]),
            "workspace_id": workspace_id,
            "instagram_account_id": str(merged["instagram_account_id"]) if merged["instagram_account_id"] else None,
            "caption": merged["caption"],
            "hashtags": merged["hashtags"],
            "alt_text": merged["alt_text"],
            "first_comment": merged["first_comment"],
            "caption_source": "manual" if "caption" in changed else locked["caption_source"],
            "scheduled_at": at,
            "rescheduled": rescheduled,
            "content_changed": content_changed,
            # An approval covers the content it saw: a change drops it, or renews it when an approver makes it.
            "approval_changed": approval_changed,
            "approver": str(actor_user_id) if approver else None,
        },
    )
    assert row is not None  # locked above
    if "asset_ids" in changed:
        await tx.execute(QUERIES["delete_post_media"], {"post_id": str(locked["id"]), "workspace_id": workspace_id})
        await tx.execute(
            QUERIES["insert_post_media"],
            {
                "post_id": str(locked["id"]),
                "workspace_id": workspace_id,
                "image_asset_ids": [i.asset_id for i in images],
                "image_paths": [i.storage_path for i in images],
                "image_widths": [i.width for i in images],
                "image_heights": [i.height for i in images],
            },
        )
    fields = changed + (["scheduled_at"] if at != locked["scheduled_at"] else [])
    detail: dict[str, Any] = {"action": "edit", "fields": sorted(fields)}
    if content_changed and locked["container_id"]:
        detail["dropped_container_id"] = locked["container_id"]
    if approval_changed and locked["approved_at"] is not None:
        detail["approval"] = "renewed" if approver else "withdrawn"
    await tx.execute(
        QUERIES["insert_event"],
        {
            "post_id": str(locked["id"]),
            "workspace_id": workspace_id,
            "kind": "edited",
            "from_status": status,
            "to_status": status,
            "detail": Jsonb(detail),
            "actor": actor_name(actor_user_id),
        },
    )
    return row


def _differs(field: str, value: Any, row: Row) -> bool:
    if field == "instagram_account_id":
        return (str(value) if value else None) != (str(row[field]) if row[field] else None)
    if field == "hashtags":
        return normalize_hashtags(value or []) != list(row["hashtags"] or [])
    return bool(value != row[field])


async def _images(tx: Tx, post: Row, asset_ids: list[Any] | None) -> list[PostImage]:
    workspace_id = str(post["workspace_id"])
    if asset_ids is None:
        rows = await tx.fetch_all(
            QUERIES["images_of_posts"], {"workspace_id": workspace_id, "post_ids": [str(post["id"])]}
        )
        return [
            PostImage(str(r["asset_id"]) if r["asset_id"] else None, r["storage_path"], r["width"], r["height"])
            for r in rows
        ]
    return await resolve_images(tx, workspace_id, [PostImage(str(a), None, None, None) for a in asset_ids])


async def _patched_time(
    tx: Tx, post: Row, changes: dict[str, Any], timezone: str, now: datetime
) -> tuple[datetime | None, bool]:
    """The post's scheduled_at after the PATCH, and whether a scheduled post was rescheduled."""
    if "scheduled_at" not in changes:
        return post["scheduled_at"], False
    value = changes["scheduled_at"]
    if value is None:
        if post["status"] in ("pending_approval", "scheduled"):
            raise RequestValidationError(
                "A scheduled post needs a time; cancel it instead.",
                details=[{"field": "scheduled_at", "message": "Cannot be cleared now.", "type": "required"}],
            )
        return None, False
    at = times.resolve_scheduled_at(value, times.zone(timezone), now=now)
    return at, post["status"] == "scheduled"
