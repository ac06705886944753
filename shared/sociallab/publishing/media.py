"""Finding the media a lost publish became, and what follows a publish (permalink, first comment).

When media_publish's answer is lost and the container then reads PUBLISHED, the post went out but
Instagram's container does not name the media it became. The media is found in the account's latest
media (`InstagramClient.recent_media`, one Graph call):

- a media whose caption is exactly the caption we sent (`instagram_caption`), else equal once whitespace
  is normalised; for a post without a caption, the only captionless media;
- published no earlier than the container's creation minus `media_match_skew_seconds`;
- not already held by another of our posts (the backfill knows them; the write re-checks anyway);
- among several (the same caption twice): right after the publish, the newest (ours went out last);
  in the backfill, which completes an account's posts oldest first, the oldest still free.

Found: the media id (and permalink) is written with `published`. Not found, or the lookup failed: the
post is `published` with its media id NULL, and `backfill_media` (at the start of every run) looks
again later: a bounded batch, one Graph call per account, backing off per post. The same lookup also
gives a permalink to a post that has its media id but no permalink (a run died, or the permalink read
failed, right after the publish was written); its first comment is left alone there (whether it was
posted is unknown, and a duplicate is worse than none). None of this ever
publishes: it only reads the media list and writes what it found.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sociallab.crypto import DecryptionError
from sociallab.errors import AppError
from sociallab.instagram.accounts import ReauthRequiredError
from sociallab.instagram.errors import InstagramError
from sociallab.instagram.models import RecentMedia
from sociallab.logging import get_logger, log_context
from sociallab.publishing.context import RunContext
from sociallab.publishing.store import ClaimedPost, account_row
from sociallab.scheduling.validation import instagram_caption

log = get_logger(__name__)

_SPACE = re.compile(r"\s+")


def _loose(text: str | None) -> str:
    return _SPACE.sub(" ", (text or "").strip())


def match_media(
    media: Iterable[RecentMedia],
    *,
    caption: str | None,
    not_before: datetime | None,
    taken: Iterable[str] = (),
    newest: bool = False,
) -> RecentMedia | None:
    """The media a post's publish became, among `media` (see the module docstring for the rule), or None;
    `newest` picks the newest of several matches instead of the oldest."""
    excluded = set(taken)
    candidates = [
        m
        for m in media
        if m.id not in excluded and (not_before is None or (m.timestamp is not None and m.timestamp >= not_before))
    ]
    ordered = sorted(
        candidates, key=lambda m: (m.timestamp or datetime.min.replace(tzinfo=UTC), int_id(m.id)), reverse=newest
    )
    if not caption:
        captionless = [m for m in ordered if not m.caption]
        return captionless[0] if len(captionless) == 1 else None
    exact = [m for m in ordered if m.caption == caption]
    if exact:
        return exact[0]
    loose = [m for m in ordered if m.caption and _loose(m.caption) == _loose(caption)]
    return loose[0] if loose else None


def int_id(media_id: str) -> tuple[int, str]:
    """Sort key of a media id (numeric ids grow with time; others sort after, by text)."""
    return (int(media_id), "") if media_id.isdigit() else (1 << 62, media_id)


def _not_before(ctx: RunContext, created_at: datetime | None) -> datetime | None:
    if created_at is None:
        return None
    return created_at - timedelta(seconds=ctx.config.media_match_skew_seconds)


async def find_published_media(
    ctx: RunContext, post: ClaimedPost, token: str, created_at: datetime | None
) -> tuple[RecentMedia | None, str]:
    """Right after a lost publish turned out to have gone out: (the media, "found") or (None, why not:
    "not_found", "story", "error"). Never raises an `Exception`: the post is published either way."""
    if post.media_type == "STORY":
        return None, "story"  # stories are not on /{ig_user_id}/media
    try:
        media = await ctx.client.recent_media(post.ig_user_id, token, limit=ctx.config.media_lookup_limit)
    except InstagramError as exc:
        log.warning("media lookup failed; a later run looks again", extra={"error_class": type(exc).__name__})
        return None, "error"
    found = match_media(
        media,
        caption=instagram_caption(post.caption, post.hashtags),
        not_before=_not_before(ctx, created_at or post.container_created_at),
        newest=True,
    )
    return found, "found" if found else "not_found"


async def after_publish(
    ctx: RunContext,
    post_id: str,
    media_id: str,
    token: str,
    *,
    first_comment: str | None,
    first_comment_id: str | None,
    permalink: str | None = None,
) -> None:
    """Permalink (unless already known) and first comment. The post is published whatever happens here;
    the comment is posted at most once (a lost answer is not retried: a duplicate comment is worse than
    none)."""
    comment_id: str | None = None
    fetched: str | None = None
    detail: dict[str, Any] = {"run": ctx.store.run_id}
    if ctx.config.fetch_permalink and not permalink:
        try:
            fetched = await ctx.client.permalink(media_id, token)
        except InstagramError as exc:
            detail["permalink_error"] = exc.reason
    if first_comment and not first_comment_id:
        try:
            comment_id = await ctx.client.comment(media_id, token, first_comment)
            detail["first_comment_id"] = comment_id
        except InstagramError as exc:
            detail["first_comment_error"] = exc.reason
            log.warning("first comment failed", extra={"error_class": type(exc).__name__})
    if fetched or comment_id or len(detail) > 1:
        await ctx.store.save_published_extras(post_id, permalink=fetched, comment_id=comment_id, detail=detail)


# --- the backfill -----------------------------------------------------------------------------------


async def backfill_media(ctx: RunContext) -> None:
    """Look again for the media of published posts that have none (see the module docstring). One
    statement when there is nothing to do. Never raises an `Exception` (logged; the next run tries
    again); a `BaseException` (a crash) goes through."""
    cfg = ctx.config
    if cfg.backfill_batch <= 0:
        return
    try:
        rows = await ctx.store.pick_media_backfill(
            limit=cfg.backfill_batch,
            window_seconds=cfg.backfill_window_seconds,
            retry_base_seconds=cfg.backfill_retry_base_seconds,
            retry_cap_seconds=cfg.backfill_retry_cap_seconds,
            with_permalinks=cfg.fetch_permalink,
        )
    except Exception:
        log.exception("media backfill: could not read the posts to complete")
        return
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_account[str(row["instagram_account_id"])].append(row)
    if not by_account:
        return
    gate = asyncio.Semaphore(cfg.concurrency)

    async def one(account_id: str, posts: list[dict[str, Any]]) -> None:
        async with gate:
            with log_context(instagram_account_id=account_id):
                try:
                    await _backfill_account(ctx, account_id, posts)
                except Exception:
                    log.exception("media backfill failed for an account; a later run looks again")

    await asyncio.gather(*(one(account_id, posts) for account_id, posts in by_account.items()))


async def _backfill_account(ctx: RunContext, account_id: str, posts: list[dict[str, Any]]) -> None:
    first = posts[0]
    try:
        token = ctx.account_token(account_id, account_row(first))
        media = await ctx.client.recent_media(first["ig_user_id"], token, limit=ctx.config.media_lookup_limit)
    except (InstagramError, ReauthRequiredError, DecryptionError) as exc:
        reason = exc.reason if isinstance(exc, InstagramError) else type(exc).__name__
        log.warning("media backfill lookup failed", extra={"error": reason})
        return
    taken = set(first["taken_media_ids"] or [])
    listed = {m.id: m for m in media}
    for post in sorted(posts, key=lambda p: (p["published_at"], str(p["id"]))):
        if post["ig_media_id"] is not None:  # only the permalink is missing
            known = listed.get(post["ig_media_id"])
            if known is not None and known.permalink:
                detail = {"run": ctx.store.run_id, "backfilled": True}
                await ctx.store.save_published_extras(
                    str(post["id"]), permalink=known.permalink, comment_id=None, detail=detail
                )
            continue
        found = match_media(
            media,
            caption=instagram_caption(post["caption"], list(post["hashtags"] or [])),
            not_before=_not_before(ctx, post["container_created_at"]),
            taken=taken,
        )
        if found is None:
            log.info("media backfill: not found yet", extra={"post_id": str(post["id"])})
            continue
        taken.add(found.id)
        try:
            saved = await ctx.store.save_recovered_media(
                str(post["id"]), media_id=found.id, permalink=found.permalink, container_id=post["container_id"]
            )
        except AppError:
            log.exception("media backfill: could not save the media id", extra={"post_id": str(post["id"])})
            continue
        if not saved:
            continue  # another run was faster, or another post holds that media
        ctx.result.media_backfilled += 1
        log.info("media backfill: media id found", extra={"post_id": str(post["id"])})
        await after_publish(
            ctx,
            str(post["id"]),
            found.id,
            token,
            first_comment=post["first_comment"],
            first_comment_id=post["first_comment_id"],
            permalink=found.permalink,
        )
