"""One post through the publishing protocol (DESIGN.md §4), and what each failure does to it.

    outcome = await process_post(ctx, post)

1. a container already saved? read its status first: PUBLISHED -> it went out (record it, never
   publish again); EXPIRED -> forget it; ERROR -> failed. A post whose earlier runs all stopped
   half-way (more reclaims than attempts allow) fails here instead of being tried forever;
2. no container: check the account's publishing quota (once per account per run), create the
   container (carousel: children first, each saved the moment it exists), save its id;
3. poll its status, bounded; still IN_PROGRESS -> give the post back with a short delay;
4. wait for the post's time (a run takes posts due within its tick), confirm the lease is still
   ours, media_publish; an unknown outcome (timeout, dropped connection,
   5xx) -> read the container: PUBLISHED means it went out, anything else -> retry later;
5. record `published` with the media id at once; then the permalink and the first comment. A publish
   that went out without its answer (1. or 4.): the media is looked up in the account's latest media
   and written with `published` when found, else left to a later run's backfill (`media`).

What each failure does to the post and its account: `failures`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sociallab.instagram.client import MediaType
from sociallab.instagram.errors import (
    ContainerExpiredError,
    ContainerNotReadyError,
    TransientError,
    UnknownOutcomeError,
)
from sociallab.logging import get_logger, log_context
from sociallab.publishing.context import (
    ContainerFailedError,
    InterruptedTooOftenError,
    InvalidPostError,
    LeaseLostError,
    Outcome,
    QuotaReachedError,
    RunContext,
)
from sociallab.publishing.failures import handle_failure
from sociallab.publishing.media import after_publish, find_published_media
from sociallab.publishing.store import ClaimedPost, MediaItem
from sociallab.scheduling.validation import instagram_caption

log = get_logger(__name__)

# --- the protocol -----------------------------------------------------------------------------------


async def process_post(ctx: RunContext, post: ClaimedPost) -> Outcome:
    """Take one claimed post as far as it goes in this run. Never raises an `Exception`: every failure
    is recorded on the post (or, if even that fails, left to the lease); a `BaseException` (a crash)
    goes through untouched."""
    with log_context(post_id=post.id, workspace_id=post.workspace_id, instagram_account_id=post.account_id):
        try:
            await ctx.hooks.at("claimed", post)
            return await _publish(ctx, post)
        except Exception as exc:
            try:
                return await handle_failure(ctx, post, exc)
            except Exception:
                log.exception("could not record the outcome of a post; its lease will run out")
                ctx.result.errors += 1
                return Outcome.ERROR


async def _publish(ctx: RunContext, post: ClaimedPost) -> Outcome:
    token = ctx.token_for(post)
    ready = await _ready_container(ctx, post, token)
    if isinstance(ready, Outcome):
        return ready
    container_id, created_at = ready
    await ctx.hooks.at("container_finished", post)
    await ctx.wait_until(post.due_at)  # on time, never before it
    if not await ctx.store.confirm_lease(post):
        raise LeaseLostError()
    try:
        media_id = await ctx.client.publish(post.ig_user_id, token, container_id)
    except UnknownOutcomeError:
        # The publish may have gone out. Only the container can tell; never publish again blindly.
        if await ctx.client.container_status(container_id, token) == "PUBLISHED":
            return await _record(ctx, post, container_id, None, token, created_at)
        raise
    except ContainerExpiredError:
        await _clear(ctx, post, container_id)
        raise
    await ctx.hooks.at("published", post)
    return await _record(ctx, post, container_id, media_id, token)


async def _ready_container(ctx: RunContext, post: ClaimedPost, token: str) -> tuple[str, datetime | None] | Outcome:
    """The post's container once it reads FINISHED (with when it was made), made here when there is
    none; or the post's outcome when the container settles it. Every container status is acted on
    here, and only here:

    - PUBLISHED: it went out (a lost answer earlier): recorded, never published again;
    - ERROR: Instagram could not process it: the post fails;
    - EXPIRED: forgotten; a saved one is replaced at once, one that expired while this run waited
      for it is retried later;
    - IN_PROGRESS after `poll_timeout`: retried later (the container is kept).
    """
    container_id, created_at = post.container_id, post.container_created_at
    status = await _read_status(ctx, container_id, token) if container_id is not None else None
    if post.reclaimed and status != "PUBLISHED" and post.attempts > min(post.max_attempts, ctx.config.max_attempts):
        # Every run that took it stopped before finishing (it crashed or ran out of time): stop trying.
        raise InterruptedTooOftenError(
            f"Publishing was interrupted {post.attempts - 1} times before it could finish, so it was not "
            "published. Retry it; if it happens again, the image may be too much for the publisher."
        )
    polled = False
    while True:
        if status == "PUBLISHED" and container_id is not None:
            return await _record(ctx, post, container_id, None, token, created_at)
        if status == "ERROR":
            raise ContainerFailedError()
        if status == "EXPIRED":
            await _clear(ctx, post, container_id)
            if polled:
                raise TransientError("The media container expired before it could be published.")
            container_id, status = None, None
        if status == "FINISHED" and container_id is not None:
            return container_id, created_at
        if container_id is None:
            await _check_quota(ctx, post, token)
            created_at = ctx.now()
            container_id = await _create(ctx, post, token)
        elif polled:
            raise ContainerNotReadyError("The media container is not ready yet.")
        status = await _poll(ctx, container_id, token, fresh=status is None)
        polled = True


async def _read_status(ctx: RunContext, container_id: str, token: str) -> str:
    """A saved container's status; one Instagram no longer has reads EXPIRED."""
    try:
        return await ctx.client.container_status(container_id, token)
    except ContainerExpiredError:
        return "EXPIRED"


async def _check_quota(ctx: RunContext, post: ClaimedPost, token: str) -> None:
    """Raise `QuotaReachedError` when the account's 24 h publishing quota is used up (see
    `PublisherConfig.quota_check_threshold` for when Instagram is asked; once per account per run)."""
    limit = ctx.limits.get(post.account_id)
    if limit is None:
        if post.published_24h < ctx.config.quota_check_threshold:
            return
        limit = await ctx.client.publishing_limit(post.ig_user_id, token)
        ctx.limits[post.account_id] = limit
    if limit.remaining <= 0:
        raise QuotaReachedError(limit.window_seconds)


async def _signed_url(ctx: RunContext, item: MediaItem) -> str:
    if not item.storage_path:
        raise InvalidPostError(f"Image {item.position + 1} of the post has not been composed.")
    return await ctx.storage.signed_url(item.storage_path, ctx.config.image_url_seconds)


async def _create(ctx: RunContext, post: ClaimedPost, token: str) -> str:
    """Create the post's container (carousel: its children first) and save its id before anything else."""
    caption = instagram_caption(post.caption, post.hashtags)
    children: list[str] = []
    if post.media_type == "CAROUSEL":
        if not 2 <= len(post.media) <= 10:
            raise InvalidPostError("A carousel needs between 2 and 10 images.")
        for item in post.media:
            child = item.child_container_id
            if child is None:
                child = await ctx.client.create_container(
                    post.ig_user_id, token, media_type="IMAGE", image_url=await _signed_url(ctx, item),
                    is_carousel_item=True,
                )  # fmt: skip
                if not await ctx.store.save_child_container(post, item.position, child):
                    raise LeaseLostError()
            children.append(child)
        container_id = await _create_parent(ctx, post, token, caption, children)
    else:
        if len(post.media) != 1:
            raise InvalidPostError(f"A {post.media_type.lower()} post needs exactly one image.")
        media_type: MediaType = "STORIES" if post.media_type == "STORY" else "IMAGE"
        container_id = await ctx.client.create_container(
            post.ig_user_id,
            token,
            media_type=media_type,
            image_url=await _signed_url(ctx, post.media[0]),
            caption=caption if media_type == "IMAGE" else None,
            alt_text=post.alt_text if media_type == "IMAGE" else None,
        )
    await ctx.hooks.at("container_created", post)
    if not await ctx.store.save_container(post, container_id, children):
        raise LeaseLostError()
    await ctx.hooks.at("container_saved", post)
    return container_id


async def _create_parent(ctx: RunContext, post: ClaimedPost, token: str, caption: str, children: list[str]) -> str:
    """The carousel container; Instagram refuses it (9007) until every child is processed, so wait, bounded."""
    waited = 0.0
    while True:
        try:
            return await ctx.client.create_container(
                post.ig_user_id, token, media_type="CAROUSEL", caption=caption, children=children
            )
        except ContainerNotReadyError:
            if waited >= ctx.config.poll_timeout:
                raise
        except ContainerExpiredError:
            await _clear(ctx, post, None)  # the children expired: make new ones next time
            raise
        await ctx.sleep(ctx.config.poll_interval)
        waited += ctx.config.poll_interval


async def _poll(ctx: RunContext, container_id: str, token: str, *, fresh: bool) -> str:
    """The container's status once it is no longer IN_PROGRESS, or IN_PROGRESS after `poll_timeout`."""
    waited = 0.0
    delay = ctx.config.poll_initial_delay if fresh else 0.0
    while True:
        if delay > 0:
            await ctx.sleep(delay)
            waited += delay
        status = await ctx.client.container_status(container_id, token)
        if status != "IN_PROGRESS" or waited >= ctx.config.poll_timeout:
            return status
        delay = ctx.config.poll_interval


async def _clear(ctx: RunContext, post: ClaimedPost, container_id: str | None) -> None:
    if not await ctx.store.clear_container(post, container_id or ""):
        raise LeaseLostError()


async def _record(
    ctx: RunContext,
    post: ClaimedPost,
    container_id: str,
    media_id: str | None,
    token: str,
    created_at: datetime | None = None,
) -> Outcome:
    """Write `published` with the media id at once. `media_id` None: it went out but the answer was lost;
    the media is looked up first (one Graph call) and written with it when found."""
    recovered = media_id is None
    permalink: str | None = None
    lookup: str | None = None
    if recovered:
        found, lookup = await find_published_media(ctx, post, token, created_at)
        if found is not None:
            media_id, permalink = found.id, found.permalink
    row = await ctx.store.mark_published(
        post, media_id, container_id, recovered=recovered, permalink=permalink, lookup=lookup
    )
    if row is None:
        raise LeaseLostError()
    ctx.result.published += 1
    saved_media_id: str | None = row["ig_media_id"]
    if recovered and saved_media_id is not None:
        ctx.result.media_recovered += 1
    limit = ctx.limits.get(post.account_id)
    if limit is not None:
        ctx.limits[post.account_id] = replace(limit, quota_usage=limit.quota_usage + 1)
    log.info("post published", extra={"recovered": recovered, "media_lookup": lookup, "attempt": post.attempts})
    await ctx.hooks.at("recorded", post)
    if saved_media_id is not None:
        await after_publish(
            ctx,
            post.id,
            saved_media_id,
            token,
            first_comment=post.first_comment,
            first_comment_id=post.first_comment_id,
            permalink=row["permalink"],
        )
    return Outcome.PUBLISHED
