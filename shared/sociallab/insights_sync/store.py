"""Every database statement of insights-sync, one method per statement of `store.sql`.

A run costs the database one statement per claim batch and one per account (`save` writes media,
account days, the audience profile and the account in a single statement), plus one for the counts of
skipped accounts. No lock is held while Instagram is called. The exception is a dead token: the account
is marked `reauth_required` (posts parked, one notification) and released in one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sociallab.db import Database, Row, load_queries
from sociallab.instagram.accounts import mark_reauth_required
from sociallab.instagram.insights import MEDIA_COLUMNS
from sociallab.instagram.models import parse_timestamp

QUERIES = load_queries(Path(__file__).with_name("store.sql"))
ACTOR = "insights-sync"

Clock = Callable[[], datetime | None]


@dataclass(frozen=True)
class ClaimedAccount:
    """An account this run holds the insights lease of."""

    id: str
    workspace_id: str
    ig_user_id: str
    last_synced_at: datetime | None
    audience_synced_at: datetime | None
    frozen_media: frozenset[str]
    live_stories: list[tuple[str, datetime]]
    token_row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> ClaimedAccount:
        stories = []
        for story in row["live_stories"] or []:
            published = parse_timestamp(story.get("published_at"))
            if story.get("id") and published is not None:
                stories.append((str(story["id"]), published))
        return cls(
            id=str(row["id"]),
            workspace_id=str(row["workspace_id"]),
            ig_user_id=row["ig_user_id"],
            last_synced_at=row["last_insights_synced_at"],
            audience_synced_at=row["audience_synced_at"],
            frozen_media=frozenset(str(m) for m in row["frozen_media"] or []),
            live_stories=stories,
            token_row={
                "id": row["id"],
                "status": row["status"],
                "status_reason": row["status_reason"],
                "token_ciphertext": row["token_ciphertext"],
                "token_key_id": row["token_key_id"],
                "token_expires_at": row["token_expires_at"],
            },
        )


@dataclass
class AccountReadings:
    """What one account's sync read (written together by `InsightsStore.save`)."""

    media: list[dict[str, Any]] = field(default_factory=list)  # ig_media_id, media_type, posted_at, metrics
    days: list[dict[str, Any]] = field(default_factory=list)  # metric, day, value
    audience: list[dict[str, Any]] | None = None  # weekday, hour, followers_online, samples; None: not read
    synced: bool = False  # the sync went through to the end
    usage_pct: float | None = None
    insights_pause_seconds: float | None = None
    throttle_seconds: float | None = None
    reason: str | None = None

    def add_media(self, media_id: str, media_type: str, posted_at: datetime | None, values: dict[str, float]) -> None:
        row: dict[str, Any] = {
            "ig_media_id": media_id,
            "media_type": media_type,
            "posted_at": posted_at.isoformat() if posted_at else None,
        }
        row.update({name: int(values[name]) if name in values else None for name in MEDIA_COLUMNS})
        self.media.append(row)


@dataclass(frozen=True)
class Saved:
    media: int
    days: int
    audience_hours: int
    released: bool


class InsightsStore:
    """The statements of one run (`run_id` owns the leases it takes)."""

    def __init__(self, db: Database, *, run_id: str | None = None, lease_seconds: float = 600.0,
                 clock: Clock | None = None) -> None:  # fmt: skip
        self.db = db
        self.run_id = run_id or f"insights-sync:{uuid.uuid4().hex[:16]}"
        self.lease_seconds = lease_seconds
        self._clock = clock

    def _params(self, **values: Any) -> dict[str, Any]:
        return {"run": self.run_id, "now": self._clock() if self._clock else None, **values}

    async def skipped(self) -> tuple[int, int]:
        """(accounts needing a reconnect, accounts paused) that no run syncs now.

        Raises:
            DependencyUnavailableError: the database is unreachable.
        """
        row = await self.db.fetch_one(QUERIES["skipped"], self._params())
        return (int(row["reauth"]), int(row["paused"])) if row else (0, 0)

    async def claim(self, limit: int, *, min_interval_seconds: float, frozen_limit: int) -> list[ClaimedAccount]:
        """Lease up to `limit` accounts due for a sync (see `claim` in store.sql).

        Raises:
            DependencyUnavailableError: the database is unreachable.
        """
        rows = await self.db.fetch_all(
            QUERIES["claim"],
            self._params(
                limit=limit,
                min_interval_seconds=min_interval_seconds,
                lease_seconds=self.lease_seconds,
                frozen_limit=frozen_limit,
            ),
        )
        return [ClaimedAccount.from_row(row) for row in rows]

    async def save(self, account: ClaimedAccount, readings: AccountReadings) -> Saved:
        """Write what was read and give the account back (nothing when the lease was lost).

        Raises:
            DependencyUnavailableError: the database is unreachable.
        """
        row = await self.db.fetch_one(
            QUERIES["save"],
            self._params(
                account_id=account.id,
                media=json.dumps(readings.media),
                days=json.dumps(readings.days),
                audience=json.dumps(readings.audience) if readings.audience is not None else None,
                synced=readings.synced,
                audience_read=readings.audience is not None,
                usage_pct=round(readings.usage_pct, 2) if readings.usage_pct is not None else None,
                insights_pause_seconds=readings.insights_pause_seconds,
                throttle_seconds=readings.throttle_seconds,
                reason=readings.reason,
            ),
        )
        if row is None:
            return Saved(0, 0, 0, False)
        return Saved(int(row["media"]), int(row["days"]), int(row["audience_hours"]), bool(row["released"]))

    async def reauth(self, account: ClaimedAccount, reason: str) -> None:
        """The token is dead: mark the account `reauth_required` (its posts parked, one notification) and
        give it back, in one transaction.

        Raises:
            AppError: the database failed; nothing was written.
        """
        async with self.db.transaction() as tx:
            await mark_reauth_required(tx, account.id, reason, actor=ACTOR)
            await tx.execute(QUERIES["release"], self._params(account_id=account.id))
