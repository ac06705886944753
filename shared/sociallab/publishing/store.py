"""Every database read and write of publish-due, one method per statement of `store.sql`.

Each method is ONE statement and ONE round trip: the statements bundle their lease bookkeeping and
audit rows (post_events) in CTEs, a status change its event's actor and detail in `posts.status_note`
(the database writes that event itself), and run on an autocommit connection, where a single
statement is its own transaction (wrapping it in BEGIN/COMMIT would add two round trips and no safety). No row lock
outlives its statement, so no lock is ever held while Instagram is called. The one exception is
`park` (a dead token, rare): several statements in one transaction.

Every write after the claim carries the run id and only touches rows whose lease this run holds; a
method returns False (or None) when the lease was lost, and the caller stops working on that post.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, LiteralString

from sociallab.db import Database, Row, load_queries
from sociallab.instagram.accounts import REAUTH_FAILURE_REASON, mark_reauth_required

QUERIES = load_queries(Path(__file__).with_name("store.sql"))
ACTOR = "publish-due"

Clock = Callable[[], datetime | None]


def account_row(row: Row) -> Row:
    """The account's token row (what `usable_token` reads) out of a claim or backfill row, which
    carries the account's columns beside the post's."""
    return {
        "id": row["instagram_account_id"],
        "status": row["account_status"],
        "token_ciphertext": row["token_ciphertext"],
        "token_key_id": row["token_key_id"],
        "token_expires_at": row["token_expires_at"],
    }


@dataclass(frozen=True)
class MediaItem:
    """One image of a post, in order (a carousel child's container id once it exists)."""

    position: int
    storage_path: str | None
    child_container_id: str | None


@dataclass(frozen=True)
class ClaimedPost:
    """A post this run holds the lease of, with what publishing it needs (the account's token row too)."""

    id: str
    workspace_id: str
    account_id: str
    media_type: str
    caption: str | None
    alt_text: str | None
    hashtags: list[str]
    first_comment: str | None
    first_comment_id: str | None
    attempts: int  # claims that counted (a transient failure gives its claim back)
    max_attempts: int
    transient_failures: int
    scheduled_at: datetime  # the post's own time: the retry window runs from it
    due_at: datetime  # when it goes out: scheduled_at, or next_attempt_at for a retry
    container_id: str | None
    container_created_at: datetime | None
    child_container_ids: list[str]
    reclaimed: bool
    published_24h: int  # posts this workspace published to the account in the last 24 h
    ig_user_id: str
    username: str | None
    media: list[MediaItem]
    account_row: Row = field(repr=False)  # id, status, token_ciphertext, token_key_id, token_expires_at

    @classmethod
    def from_row(cls, row: Row) -> ClaimedPost:
        media = [
            MediaItem(int(m["position"]), m.get("storage_path"), m.get("child_container_id"))
            for m in (row["media"] or [])
        ]
        return cls(
            id=str(row["id"]),
            workspace_id=str(row["workspace_id"]),
            account_id=str(row["instagram_account_id"]),
            media_type=row["media_type"],
            caption=row["caption"],
            alt_text=row["alt_text"],
            hashtags=list(row["hashtags"] or []),
            first_comment=row["first_comment"],
            first_comment_id=row["first_comment_id"],
            attempts=int(row["attempts"]),
            max_attempts=int(row["max_attempts"]),
            transient_failures=int(row["transient_failures"]),
            scheduled_at=row["scheduled_at"],
            due_at=row["due_at"],
            container_id=row["container_id"],
            container_created_at=row.get("container_created_at"),
            child_container_ids=list(row["child_container_ids"] or []),
            reclaimed=row["from_status"] == "publishing",
            published_24h=int(row["published_24h"]),
            ig_user_id=row["ig_user_id"],
            username=row["username"],
            media=media,
            account_row=account_row(row),
        )


class PublisherStore:
    """The statements of one run (`run_id` owns the leases it takes)."""

    def __init__(
        self,
        db: Database,
        *,
        run_id: str | None = None,
        lease_seconds: float = 300.0,
        lookahead_seconds: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id or f"publish-due:{uuid.uuid4().hex[:16]}"
        self.lease_seconds = lease_seconds
        self.lookahead_seconds = lookahead_seconds  # claims take posts due within this much of now
        self._clock = clock

    # --- plumbing ---------------------------------------------------------------------------------

    def _now(self) -> datetime | None:
        return self._clock() if self._clock else None

    def _params(self, **values: Any) -> dict[str, Any]:
        """The parameters every statement takes (run, actor, clock, lease) plus `values`."""
        return {"run": self.run_id, "actor": ACTOR, "now": self._now(), "lease_seconds": self.lease_seconds, **values}

    async def _all(self, query: LiteralString, params: dict[str, Any]) -> list[Row]:
        return await self.db.fetch_all(query, params)

    async def _one(self, query: LiteralString, params: dict[str, Any]) -> Row | None:
        return await self.db.fetch_one(query, params)

    # --- claims -----------------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[ClaimedPost]:
        """Claim up to `limit` posts, at most one per account (see `claim` in store.sql).

        Raises:
            DependencyUnavailableError: the database is unreachable.
        """
        if limit <= 0:
            return []
        rows = await self._all(
            QUERIES["claim"], self._params(limit=limit, account_id=None, lookahead_seconds=self.lookahead_seconds)
        )
        return [ClaimedPost.from_row(row) for row in rows]

    async def claim_next(self, account_id: str) -> ClaimedPost | None:
        """The next due post of an account this run holds, or None (the account lease is then released).

        Raises:
            DependencyUnavailableError: the database is unreachable.
        """
        row = await self._one(
            QUERIES["claim"], self._params(limit=1, account_id=account_id, lookahead_seconds=self.lookahead_seconds)
        )
        return ClaimedPost.from_row(row) if row else None

    async def release_account(self, account_id: str) -> None:
        """Give the account back (this run will not publish more for it)."""
        await self.db.execute(QUERIES["release_account"], self._params(account_id=account_id))

    # --- containers -------------------------------------------------------------------------------

    async def save_child_container(self, post: ClaimedPost, position: int, child_id: str) -> bool:
        row = await self._one(
            QUERIES["save_child_container"], self._params(post_id=post.id, position=position, child_id=child_id)
        )
        return row is not None

    async def save_container(self, post: ClaimedPost, container_id: str, children: list[str]) -> bool:
        row = await self._one(
            QUERIES["save_container"], self._params(post_id=post.id, container_id=container_id, children=children)
        )
        return row is not None

    async def clear_container(self, post: ClaimedPost, container_id: str) -> bool:
        row = await self._one(QUERIES["clear_container"], self._params(post_id=post.id, container_id=container_id))
        return row is not None

    async def confirm_lease(self, post: ClaimedPost) -> bool:
        """Whether the post is still this run's (and extend its lease): asked right before publishing."""
        return await self._one(QUERIES["confirm_lease"], self._params(post_id=post.id)) is not None

    # --- outcomes ---------------------------------------------------------------------------------

    async def mark_published(
        self,
        post: ClaimedPost,
        media_id: str | None,
        container_id: str,
        *,
        recovered: bool,
        permalink: str | None = None,
        lookup: str | None = None,
    ) -> Row | None:
        """Write `published`; the row (id, ig_media_id, permalink) or None when the lease was lost. A
        recovered media id that another post already holds is not written (ig_media_id stays NULL)."""
        return await self._one(
            QUERIES["mark_published"],
            self._params(
                post_id=post.id,
                media_id=media_id,
                container_id=container_id,
                recovered=recovered,
                permalink=permalink,
                lookup=lookup,
            ),
        )

    # --- media backfill ---------------------------------------------------------------------------

    async def pick_media_backfill(
        self,
        *,
        limit: int,
        window_seconds: float,
        retry_base_seconds: float,
        retry_cap_seconds: float,
        with_permalinks: bool = True,
    ) -> list[Row]:
        """Up to `limit` published posts without a media id whose lookup is due, each marked as looked up
        now (see `pick_media_backfill` in store.sql)."""
        return await self._all(
            QUERIES["pick_media_backfill"],
            self._params(
                limit=limit,
                window_seconds=window_seconds,
                retry_base_seconds=retry_base_seconds,
                retry_cap_seconds=retry_cap_seconds,
                with_permalinks=with_permalinks,
            ),
        )

    async def save_recovered_media(
        self, post_id: str, *, media_id: str, permalink: str | None, container_id: str | None
    ) -> bool:
        """Give a published post its found media id (only if it has none and no other post holds it)."""
        row = await self._one(
            QUERIES["save_recovered_media"],
            self._params(post_id=post_id, media_id=media_id, permalink=permalink, container_id=container_id),
        )
        return row is not None

    async def save_published_extras(
        self, post_id: str, *, permalink: str | None, comment_id: str | None, detail: dict[str, Any]
    ) -> None:
        await self._one(
            QUERIES["save_published_extras"],
            self._params(post_id=post_id, permalink=permalink, comment_id=comment_id, detail=json.dumps(detail)),
        )

    async def release_for_retry(
        self,
        post: ClaimedPost,
        *,
        delay_seconds: float,
        reason: str,
        error: str | None,
        error_code: str | None,
        transient: bool,
    ) -> datetime | None:
        """Back to scheduled, due again in `delay_seconds`; the new due time, or None if the lease was lost.
        A `transient` failure gives its attempt back and counts in `transient_failures` instead."""
        row = await self._one(
            QUERIES["release_for_retry"],
            self._params(
                post_id=post.id,
                delay_seconds=delay_seconds,
                reason=reason,
                error=error,
                error_code=error_code,
                transient=transient,
            ),
        )
        return row["next_attempt_at"] if row else None

    async def release_for_quota(
        self, post: ClaimedPost, *, window_seconds: int, fallback_seconds: float, error: str, error_code: str | None
    ) -> datetime | None:
        row = await self._one(
            QUERIES["release_for_quota"],
            self._params(
                post_id=post.id,
                account_id=post.account_id,
                window_seconds=window_seconds,
                fallback_seconds=fallback_seconds,
                error=error,
                error_code=error_code,
            ),
        )
        return row["next_attempt_at"] if row else None

    async def fail(
        self, post: ClaimedPost, *, reason: str, error: str, error_code: str | None, notice: str | None
    ) -> bool:
        """`failed` with `reason` and a readable `error`; `notice` (if any) tells the workspace. False when the
        lease was lost."""
        row = await self._one(
            QUERIES["fail"],
            self._params(post_id=post.id, reason=reason, error=error, error_code=error_code, notice=notice),
        )
        return row is not None

    async def pause_account(
        self,
        account_id: str,
        *,
        post: ClaimedPost | None,
        pause_seconds: float,
        error: str,
        error_code: str | None,
        usage_pct: float | None,
    ) -> datetime | None:
        """Pause the account until now + `pause_seconds` (never shortening a longer pause) and give its
        post in flight back without using an attempt. Returns `rate_limited_until`."""
        row = await self._one(
            QUERIES["pause_account"],
            self._params(
                account_id=account_id,
                post_id=post.id if post else None,
                pause_seconds=pause_seconds,
                error=error,
                error_code=error_code,
                usage_pct=round(usage_pct, 2) if usage_pct is not None else None,
            ),
        )
        return row["rate_limited_until"] if row else None

    async def park(self, post: ClaimedPost, *, error: str, post_error: str, error_code: str | None) -> int:
        """The account's token is dead: in one transaction, fail `post` (reason `reauth_required`,
        `post_error`), mark the account `reauth_required` with `error` (which parks its waiting posts
        and notifies once; `mark_reauth_required`) and give the account back. Returns how many posts
        were parked, `post` included when its lease was still this run's.

        Raises:
            AppError: the database failed; nothing was written.
        """
        async with self.db.transaction() as tx:
            failed = await tx.fetch_one(
                QUERIES["fail"],
                self._params(
                    post_id=post.id, reason=REAUTH_FAILURE_REASON, error=post_error, error_code=error_code, notice=None
                ),
            )
            reauth = await mark_reauth_required(tx, post.account_id, error, actor=ACTOR)
            await tx.execute(QUERIES["release_account"], self._params(account_id=post.account_id))
        return len(reauth.parked_post_ids) + (1 if failed else 0)
