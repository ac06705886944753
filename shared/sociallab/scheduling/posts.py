"""Posts: create, edit, read and list them, and present them in the API's shape.

    async with db.transaction() as tx:
        row = await create_post(tx, workspace_id=ws, actor_user_id=user, instagram_account_id=acct,
                                media_type="IMAGE", caption="Full time!", alt_text=None, first_comment=None,
                                hashtags=["#matchday"], images=[PostImage(asset_id, None, None, None)],
                                scheduled_at=None)
        out = await post_out(tx, row, storage=storage)

Status changes after creation (approve, schedule, cancel, retry) live in `states`. The database
records every status change, creation included, as a `post_events` row (from `posts.status_note`).
All SQL filters by workspace.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from psycopg.types.json import Jsonb

from sociallab.access import RANK
from sociallab.db import Row, Tx, load_queries
from sociallab.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestValidationError,
)
from sociallab.jsonlimits import load_json
from sociallab.scheduling import times
from sociallab.scheduling.api_models import EventOut, ImageOut, PostOut
from sociallab.scheduling.validation import ImageSize, check_post, normalize_hashtags
from sociallab.storage import Storage

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

IMAGE_URL_SECONDS = 6 * 3600  # signed image URLs in API responses
# Who approves posts in a workspace that requires approval (API.md: owner connects accounts,
# editor writes). Owners' own posts need no approval.
APPROVER_ROLE = "owner"
EDITABLE = ("draft", "pending_approval", "scheduled", "failed")


@dataclass(frozen=True)
class PostImage:
    """One image of a new post: a composed file (`storage_path`) and/or the source photo (`asset_id`).

    With only `asset_id`, the photo's normalized JPEG is published (it must be `ready`).
    """

    asset_id: str | None
    storage_path: str | None
    width: int | None
    height: int | None


class DuplicatePostError(ConflictError):
    """A post with this dedupe key already exists."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(constraint="posts_workspace_dedupe_key")
        self.existing_id = existing_id


class _Queryable(Protocol):
    async def fetch_all(self, query: Any, params: Any = None) -> list[Row]: ...


def _invalid(field: str, message: str, kind: str = "invalid") -> RequestValidationError:
    return RequestValidationError(message, details=[{"field": field, "message": message, "type": kind}])


async def workspace_context(tx: Tx, workspace_id: str, user_id: str | None) -> Row:
    """The workspace's timezone, require_approval, default_post_time and the actor's role.

    Raises:
        NotFoundError: no such workspace.
    """
    row = await tx.fetch_one(QUERIES["workspace_context"], {"workspace_id": workspace_id, "user_id": user_id})
    if row is None:
        raise NotFoundError("No such workspace.")
    return row


async def check_account(tx: Tx, workspace_id: str, account_id: str, *, must_be_usable: bool) -> Row:
    """The workspace's Instagram account `account_id`.

    Raises:
        RequestValidationError: not an account of this workspace, or (`must_be_usable`) it needs
            reconnecting or was disconnected.
    """
    row = await tx.fetch_one(QUERIES["account_in_workspace"], {"workspace_id": workspace_id, "account_id": account_id})
    if row is None:
        raise _invalid("instagram_account_id", "No such Instagram account in this workspace.", "not_found")
    if must_be_usable and row["status"] == "reauth_required":
        raise _invalid(
            "instagram_account_id",
            f"The Instagram account @{row['username'] or row['id']} must be reconnected before posts can be "
            "scheduled on it.",
            "reauth_required",
        )
    if must_be_usable and row["status"] not in ("active", "rate_limited"):
        raise _invalid("instagram_account_id", "This Instagram account is disconnected.", "account_inactive")
    return row


async def resolve_images(tx: Tx, workspace_id: str, images: Sequence[PostImage]) -> list[PostImage]:
    """`images` with storage path and size filled in from their assets where not given.

    Raises:
        RequestValidationError: an asset is not in the workspace, or is not ready when its own
            file is the image, or an image has neither asset nor file.
    """
    ids = sorted({str(image.asset_id) for image in images if image.asset_id})
    assets = {}
    if ids:
        rows = await tx.fetch_all(QUERIES["assets_in_workspace"], {"workspace_id": workspace_id, "asset_ids": ids})
        assets = {str(row["id"]): row for row in rows}
    resolved = []
    for index, image in enumerate(images):
        field = f"asset_ids.{index}"
        asset = assets.get(str(image.asset_id)) if image.asset_id else None
        if image.asset_id and asset is None:
            raise _invalid(field, "No such photo in this workspace.", "not_found")
        if image.storage_path:
            resolved.append(image)
            continue
        if asset is None:
            raise _invalid(field, "An image needs a photo or a file.", "missing")
        if asset["status"] != "ready":
            raise _invalid(field, f"This photo is not ready ({asset['status']}).", "asset_not_ready")
        resolved.append(
            PostImage(str(asset["id"]), asset["publish_path"], asset["publish_width"], asset["publish_height"])
        )
    return resolved


def initial_status(*, scheduled_at: datetime | None, require_approval: bool, actor_role: str | None) -> str:
    """draft without a time; with one, pending_approval when the workspace wants approval and
    the actor cannot approve, else scheduled."""
    if scheduled_at is None:
        return "draft"
    if require_approval and not can_approve(actor_role):
        return "pending_approval"
    return "scheduled"


def can_approve(role: str | None) -> bool:
    return role is not None and RANK.get(role, 0) >= RANK[APPROVER_ROLE]


def _image_params(images: Sequence[PostImage]) -> dict[str, Any]:
    return {
        "image_asset_ids": [str(i.asset_id) if i.asset_id else None for i in images],
        "image_paths": [i.storage_path for i in images],
        "image_widths": [i.width for i in images],
        "image_heights": [i.height for i in images],
    }


async def create_post(
    tx: Tx,
    *,
    workspace_id: str,
    actor_user_id: str | None,
    instagram_account_id: str | None,
    media_type: str,
    caption: str,
    alt_text: str | None,
    first_comment: str | None,
    hashtags: list[str],
    images: list[PostImage],
    scheduled_at: datetime | None,
    match_id: str | None = None,
    template_id: str | None = None,
    content_type: str | None = None,
    caption_source: str | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> Row:
    """Create a post (with its images and first event) and return its row.

    Status: `draft` without `scheduled_at`; with it, `pending_approval` when the workspace
    requires approval and the actor is not an owner (system actors, `actor_user_id=None`, are
    not owners), else `scheduled`. A naive `scheduled_at` is local time in the workspace's zone.

    Raises:
        NotFoundError: no such workspace.
        RequestValidationError: a rule of `validation` is broken; an account or photo is not in
            the workspace; the account needs reconnecting; a photo is not ready; `scheduled_at`
            is in the past; a time is given without an account.
        DuplicatePostError: `dedupe_key` is taken (`existing_id` names the post).
        UnprocessableError: a template of another workspace, a match not in the workspace.
    """
    now = now or times.utcnow()
    ws = await workspace_context(tx, str(workspace_id), str(actor_user_id) if actor_user_id else None)
    tags = normalize_hashtags(hashtags)
    resolved = await resolve_images(tx, str(workspace_id), images)
    check_post(
        media_type=media_type,
        caption=caption,
        hashtags=tags,
        first_comment=first_comment,
        alt_text=alt_text,
        images=[ImageSize(i.width, i.height) for i in resolved],
    )
    at = times.resolve_scheduled_at(scheduled_at, times.zone(ws["timezone"]), now=now) if scheduled_at else None
    if instagram_account_id:
        await check_account(tx, str(workspace_id), str(instagram_account_id), must_be_usable=at is not None)
    elif at is not None:
        raise _invalid("instagram_account_id", "Choose an Instagram account to schedule a post.", "missing")
    status = initial_status(scheduled_at=at, require_approval=ws["require_approval"], actor_role=ws["actor_role"])
    approved = status == "scheduled" and ws["require_approval"]
    row = await tx.fetch_one(
        QUERIES["insert_post"],
        {
            "workspace_id": str(workspace_id),
            "instagram_account_id": str(instagram_account_id) if instagram_account_id else None,
            "match_id": str(match_id) if match_id else None,
            "template_id": str(template_id) if template_id else None,
            "content_type": content_type,
            "dedupe_key": dedupe_key,
            "media_type": media_type,
            "status": status,
            "caption": caption,
            "caption_source": caption_source,
            "alt_text": alt_text,
            "first_comment": first_comment,
            "hashtags": tags,
            "scheduled_at": at,
            "approved_by": str(actor_user_id) if approved and actor_user_id else None,
            "approved_at": now if approved else None,
            "actor_user_id": str(actor_user_id) if actor_user_id else None,
            "event_detail": Jsonb({"action": "create"}),
            "actor": actor_name(actor_user_id),
            **_image_params(resolved),
        },
    )
    if row is None:
        existing = await tx.fetch_val(
            QUERIES["post_by_dedupe_key"], {"workspace_id": str(workspace_id), "dedupe_key": dedupe_key}
        )
        raise DuplicatePostError(str(existing))
    return row


def actor_name(user_id: str | UUID | None, system: str = "system") -> str:
    """The `post_events.actor` of a user (`user:<id>`) or a system component."""
    return f"user:{user_id}" if user_id else system


async def post_for_member(tx: Tx, post_id: str, user_id: str, minimum: str = "viewer") -> Row:
    """The post `post_id` if `user_id` is a member of its workspace with at least `minimum`
    (the row carries `actor_role`).

    Raises:
        NotFoundError: no such post, or one of a workspace the user is not in.
        PermissionDeniedError: a member with a lower role.
    """
    row = await tx.fetch_one(QUERIES["post_for_member"], {"post_id": post_id, "user_id": user_id})
    if row is None:
        raise NotFoundError("No such post.")
    if RANK[row["actor_role"]] < RANK[minimum]:
        raise PermissionDeniedError(f"This needs the {minimum} role; you are {row['actor_role']}.")
    return row


async def post_out(tx_or_db: _Queryable, post_row: Row, *, storage: Storage, with_events: bool = False) -> PostOut:
    """`post_row` in the API's shape, images as signed Storage URLs (and its events if asked)."""
    [out] = await posts_out(tx_or_db, [post_row], storage=storage)
    if with_events:
        rows = await tx_or_db.fetch_all(
            QUERIES["events_of_post"], {"workspace_id": post_row["workspace_id"], "post_id": post_row["id"]}
        )
        out.events = [EventOut.model_validate(r) for r in rows]
    return out


async def posts_out(tx_or_db: _Queryable, rows: Sequence[Row], *, storage: Storage) -> list[PostOut]:
    """Several posts of one workspace in the API's shape, with one query for all their images."""
    if not rows:
        return []
    media = await tx_or_db.fetch_all(
        QUERIES["images_of_posts"],
        {"workspace_id": rows[0]["workspace_id"], "post_ids": [row["id"] for row in rows]},
    )
    urls = await _signed_urls(storage, [m["storage_path"] for m in media])
    by_post: dict[Any, list[ImageOut]] = {}
    for m in media:
        by_post.setdefault(m["post_id"], []).append(
            ImageOut(url=urls.get(m["storage_path"]), width=m["width"], height=m["height"])
        )
    return [PostOut.model_validate({**row, "images": by_post.get(row["id"], []), "events": None}) for row in rows]


async def _signed_urls(storage: Storage, paths: Sequence[str | None]) -> dict[str, str | None]:
    """A signed URL per distinct path (None for a file that is gone), at most 8 at a time."""
    distinct = sorted({p for p in paths if p})
    gate = asyncio.Semaphore(8)

    async def sign(path: str) -> str | None:
        async with gate:
            try:
                return await storage.signed_url(path, IMAGE_URL_SECONDS)
            except (NotFoundError, BadRequestError):
                return None

    signed = await asyncio.gather(*(sign(p) for p in distinct))
    return dict(zip(distinct, signed, strict=True))


# --- listing -----------------------------------------------------------------------------------


def encode_cursor(row: Row) -> str:
    """An opaque cursor after `row` in the list order."""
    raw = json.dumps({"c": row["created_at"].isoformat(), "i": str(row["id"])}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points after.

    Raises:
        BadRequestError: not a cursor this API made.
    """
    try:
        data = load_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(data["c"])
        post_id = str(UUID(data["i"]))
        if created_at.tzinfo is None:
            raise ValueError("naive")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequestError("The cursor is invalid.") from None
    return created_at, post_id


async def list_posts(
    tx: Tx,
    *,
    workspace_id: str,
    status: str | None = None,
    instagram_account_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Row], str | None]:
    """One page of the workspace's posts, newest first, and the cursor of the next page.

    `start`/`end` bound `scheduled_at` (inclusive/exclusive); naive ones are local times.

    Raises:
        BadRequestError: a bad cursor.
    """
    after = decode_cursor(cursor) if cursor else (None, None)
    if start is not None or end is not None:
        ws = await workspace_context(tx, workspace_id, None)
        tz = times.zone(ws["timezone"])
        start = times.to_utc(start, tz) if start else None
        end = times.to_utc(end, tz) if end else None
    rows = await tx.fetch_all(
        QUERIES["list_posts"],
        {
            "workspace_id": workspace_id,
            "status": status,
            "account_id": instagram_account_id,
            "from": start,
            "to": end,
            "after_created_at": after[0],
            "after_id": after[1],
            "limit": limit + 1,
        },
    )
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
