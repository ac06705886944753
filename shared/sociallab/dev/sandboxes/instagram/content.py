"""Content publishing in the Instagram sandbox: containers, media_publish, the publishing limit, comments,
the account's media list.

Functions over `SandboxState`; each is synchronous and must be called with `state.lock` held, so it is
atomic. They mirror the real API's rules (carousel 2-10 finished carousel items, caption limits, a
PUBLISHED container cannot be published again, the sliding 24 h publishing window) and raise `MetaError`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sociallab.dev.sandboxes.instagram.state import (
    MAX_CAPTION,
    MAX_HASHTAGS,
    MAX_MENTIONS,
    PUBLISH_WINDOW,
    STATUS_TEXT,
    Account,
    Container,
    Media,
    MetaError,
    SandboxState,
    bad_param,
)

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")


def not_ready() -> MetaError:
    return MetaError(400, 9007, "The media is not ready for publishing, please wait for a moment", subcode=2207027)


def check_caption(caption: str | None) -> None:
    if not caption:
        return
    if (
        len(caption) > MAX_CAPTION
        or len(_HASHTAG.findall(caption)) > MAX_HASHTAGS
        or len(_MENTION.findall(caption)) > MAX_MENTIONS
    ):
        raise bad_param("The caption is too long or has too many hashtags or mentions.", subcode=2207010)


def create_container(
    state: SandboxState, account: Account, params: dict[str, str], image_error: str | None = None
) -> Container:
    """Validate a container request and store it; `image_error` (from fetching the image) makes it ERROR."""
    media_type = (params.get("media_type") or "IMAGE").upper()
    carousel_item = params.get("is_carousel_item", "").lower() == "true"
    if media_type not in {"IMAGE", "CAROUSEL", "STORIES"}:
        raise bad_param(f"The media type {media_type} is not supported by the sandbox.", subcode=2207023)
    children: list[str] = []
    if media_type == "CAROUSEL":
        children = [c.strip() for c in params.get("children", "").split(",") if c.strip()]
        if not 2 <= len(children) <= 10:
            raise bad_param("A carousel needs between 2 and 10 children.", subcode=2207028)
        for child_id in children:
            child = state.container(child_id, account)
            if not child.is_carousel_item:
                raise bad_param(f"The child {child_id} was not created as a carousel item.", subcode=2207028)
            if state.status_of(child) != "FINISHED":
                raise not_ready()
    elif not params.get("image_url"):
        raise bad_param("The parameter image_url is required.")
    if carousel_item and media_type != "IMAGE":
        raise bad_param("Only images can be carousel items here.")
    caption = None if carousel_item else params.get("caption")
    check_caption(caption)
    container = Container(
        id=state._next_id(),
        ig_user_id=account.ig_user_id,
        media_type=media_type,
        created_at=state.clock(),
        image_url=params.get("image_url"),
        caption=caption,
        alt_text=params.get("alt_text"),
        children=children,
        is_carousel_item=carousel_item,
    )
    if container.image_url and any(m in container.image_url for m in state.rejected_image_markers):
        image_error = "The image could not be processed (2207005 unsupported format)."
    if image_error:
        container.error = f"Error: {image_error}"
    state.containers[container.id] = container
    return container


def container_fields(state: SandboxState, container: Container, fields: str) -> dict[str, Any]:
    status = state.status_of(container)
    values: dict[str, Any] = {
        "id": container.id,
        "status_code": status,
        "status": container.error if status == "ERROR" else STATUS_TEXT[status],
        "media_type": container.media_type,
    }
    wanted = [f for f in fields.split(",") if f] or ["id"]
    return {"id": container.id, **{f: values[f] for f in wanted if f in values}}


def publish(state: SandboxState, account: Account, creation_id: str | None) -> Media:
    """Turn a FINISHED container into a media, once; PUBLISHED containers are refused, never re-published."""
    if not creation_id:
        raise bad_param("The parameter creation_id is required.")
    container = state.container(creation_id, account)
    if container.is_carousel_item:
        raise bad_param("A carousel item cannot be published on its own.")
    status = state.status_of(container)
    if status == "PUBLISHED":
        raise bad_param("This media has already been published.", subcode=2207006)
    if status == "IN_PROGRESS":
        raise not_ready()
    if status == "EXPIRED":
        raise MetaError(400, 24, "The media container has expired; create a new one.", subcode=2207008)
    if status == "ERROR":
        raise bad_param("The media container failed processing; create a new one.", subcode=2207005)
    now = state.clock()
    _prune(account, now)
    if len(account.publishes) >= state.publish_limit:
        raise MetaError(
            400, 9, "The maximum number of posts that can be published in 24 hours has been reached.", subcode=2207042
        )
    media_id = state._next_id()
    media = Media(
        id=media_id,
        container_id=container.id,
        ig_user_id=account.ig_user_id,
        media_type="CAROUSEL_ALBUM" if container.media_type == "CAROUSEL" else container.media_type,
        caption=container.caption,
        image_urls=[state.containers[c].image_url or "" for c in container.children] or [container.image_url or ""],
        published_at=now,
        permalink=f"https://www.instagram.com/p/SBX{media_id[-8:]}/",
    )
    container.media_id = media_id
    account.publishes.append(now)
    state.media[media_id] = media
    state._publish_counts[container.id] += 1
    state._by_caption[container.caption or ""] += 1
    return media


def publishing_limit(state: SandboxState, account: Account) -> dict[str, Any]:
    _prune(account, state.clock())
    return {
        "data": [
            {
                "config": {"quota_total": state.publish_limit, "quota_duration": PUBLISH_WINDOW},
                "quota_usage": len(account.publishes),
            }
        ]
    }


def media_of(state: SandboxState, media_id: str, account: Account) -> Media:
    media = state.media.get(media_id)
    if media is None or media.ig_user_id != account.ig_user_id:
        raise bad_param(
            f"Unsupported request. Object with ID '{media_id}' does not exist, cannot be loaded due "
            "to missing permissions, or does not support this operation.",
            subcode=33,
        )
    return media


def media_fields(media: Media, fields: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": media.id,
        "permalink": media.permalink,
        "caption": media.caption,
        "media_type": media.media_type,
        "media_product_type": "STORY" if media.media_type == "STORIES" else "FEED",
        "timestamp": iso_time(media.published_at),
        "comments_count": len(media.comments),
    }
    wanted = [f for f in fields.split(",") if f] or ["id"]
    return {"id": media.id, **{f: values[f] for f in wanted if f in values}}


def iso_time(epoch: float) -> str:
    """Instagram's timestamp format: ISO 8601, UTC, ``+0000`` offset, whole seconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


MEDIA_PAGE_DEFAULT = 25
MEDIA_PAGE_MAX = 100


def media_list(state: SandboxState, account: Account, params: dict[str, str]) -> dict[str, Any]:
    """``GET /{ig_user_id}/media``: the account's feed media (stories are not on this edge), newest first,
    one page of ``limit`` (default 25, at most 100) after the ``after`` cursor, in Meta's paged shape."""
    try:
        limit = int(params.get("limit") or MEDIA_PAGE_DEFAULT)
    except ValueError:
        raise bad_param("The parameter limit must be an integer.") from None
    limit = max(1, min(limit, MEDIA_PAGE_MAX))
    feed = sorted(
        (m for m in state.media.values() if m.ig_user_id == account.ig_user_id and m.media_type != "STORIES"),
        key=lambda m: (m.published_at, int(m.id)),
        reverse=True,
    )
    after = params.get("after")
    if after:
        ids = [m.id for m in feed]
        if after not in ids:
            raise bad_param("The parameter after is not a valid cursor.")
        feed = feed[ids.index(after) + 1 :]
    page, more = feed[:limit], len(feed) > limit
    fields = params.get("fields", "")
    body: dict[str, Any] = {"data": [media_fields(m, fields) for m in page]}
    if page:
        paging: dict[str, Any] = {"cursors": {"before": page[0].id, "after": page[-1].id}}
        if more:
            paging["next"] = f"/{account.ig_user_id}/media?limit={limit}&after={page[-1].id}"
        body["paging"] = paging
    return body


def comment(state: SandboxState, account: Account, media_id: str, message: str | None) -> str:
    media = media_of(state, media_id, account)
    if not message:
        raise bad_param("The parameter message is required.")
    comment_id = state._next_id()
    media.comments.append({"id": comment_id, "text": message})
    return comment_id


def _prune(account: Account, now: float) -> None:
    while account.publishes and account.publishes[0] <= now - PUBLISH_WINDOW:
        account.publishes.popleft()
