"""The Supabase database webhook on `matches`: drafts made by the data, once per delivery and match.

    UPDATE to status `finished` (from anything else)  -> a `match_result` draft
    INSERT of a `scheduled` match kicking off later    -> a `matchday` post for the day before kickoff
                                                          at the workspace's default time (local)

Supabase's webhook times out after 1 s by default, and a Gemini caption alone can take longer, so
`accept` records the delivery with its work (`webhook_receipts`, keyed by a hash of the payload,
leased for `LEASE_SECONDS` to the attempt that answers) and answers; the work then runs in an asyncio
task the handler keeps referenced. Nothing relies on CPU after the response (issue 7.7): when the
platform throttles the instance or it dies, the lease runs out with the receipt unfinished, and the
next scheduled `pickup` (generate-content `POST /webhook/pickup`, every 5 minutes) takes it over and
does the work inside its own request. Only the attempt holding the lease records the result, and a
post is made at most once per match and kind anyway (`posts.dedupe_key` is `match_result:<match id>`
/ `matchday:<match id>`), so a late original racing a pickup still makes one post. A delivery whose
work was started `MAX_ATTEMPTS` times without finishing is given up and recorded as such.

The payload only names the match: its row is read again, so a forged or stale payload cannot
choose the workspace or the data.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from sociallab.content.api_models import GenerateBody
from sociallab.db import Database, load_queries
from sociallab.errors import AppError
from sociallab.logging import get_logger, log_context
from sociallab.scheduling import times
from sociallab.scheduling.posts import DuplicatePostError

if TYPE_CHECKING:  # the generator (templates, Pillow, captions) loads with the first match to work on
    from sociallab.content.generate import Generator

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_name("generate.sql"))

SOURCE = "supabase.matches"
LEASE_SECONDS = 180  # longer than an attempt inside a request can run (generate-content times out at 120 s)
MAX_ATTEMPTS = 3
PICKUP_BUDGET_SECONDS = 60  # a pickup starts no new delivery after this (the scheduler's deadline is 180 s)
Action = Literal["match_result", "matchday", "ignored"]


class MatchWebhook(BaseModel):
    """Supabase's database webhook payload."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: Literal["INSERT", "UPDATE", "DELETE"]
    table: str
    schema_name: str = Field(default="public", alias="schema")
    record: dict[str, Any] | None = None
    old_record: dict[str, Any] | None = None


class WebhookAck(BaseModel):
    received: bool = True
    duplicate: bool = False
    action: Action


class PickupResult(BaseModel):
    """What one pickup run did: deliveries taken over, finished by it, given up after MAX_ATTEMPTS."""

    picked: int = 0
    completed: int = 0
    given_up: int = 0


def delivery_key(payload: MatchWebhook) -> str:
    """sha256 of the payload, canonical: a redelivery of the same change has the same key."""
    canonical = json.dumps(payload.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan(payload: MatchWebhook, *, now: datetime) -> tuple[Action, str | None]:
    """What a payload asks for, and the match it names."""
    record = payload.record or {}
    match_id = record.get("id")
    if payload.table != "matches" or not isinstance(match_id, str):
        return "ignored", None
    old = payload.old_record or {}
    if payload.type == "UPDATE" and record.get("status") == "finished" and old.get("status") != "finished":
        return "match_result", match_id
    if payload.type == "INSERT" and record.get("status", "scheduled") == "scheduled":
        try:
            kickoff = datetime.fromisoformat(str(record.get("kickoff_at")))
        except ValueError:
            return "ignored", None
        if kickoff.tzinfo is not None and kickoff > now:
            return "matchday", match_id
    return "ignored", None


def matchday_slot(kickoff: datetime, workspace: dict[str, Any], *, now: datetime) -> datetime | None:
    """The day before kickoff at the workspace's default time (local); None (a draft) when that has
    passed or is further ahead than a post may be scheduled."""
    tz = times.zone(workspace["timezone"])
    day = kickoff.astimezone(tz).date() - timedelta(days=1)
    at = times.local_time_on(day, workspace["default_post_time"], tz)
    return at if now + timedelta(minutes=1) < at < now + times.MAX_AHEAD else None


@dataclass
class MatchWebhookHandler:
    """Keep one per process: it holds the background tasks until they finish.

    `generator` and `database` are called for each delivery (a pool belongs to the event loop that
    opened it, so the entry point passes `get_db` itself, not a database made at import time)."""

    generator: Callable[[], Generator]
    database: Callable[[], Database]
    clock: Callable[[], datetime] = times.utcnow
    tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    async def accept(self, payload: MatchWebhook) -> WebhookAck:
        """Record the delivery and start the work; a repeated delivery is acknowledged, not redone.

        Raises:
            DependencyUnavailableError: the database is down (Supabase will see a failure).
        """
        action, match_id = plan(payload, now=self.clock())
        if action == "ignored" or match_id is None:
            return WebhookAck(action="ignored")
        key, lease_id = delivery_key(payload), str(uuid.uuid4())
        params = {
            "source": SOURCE,
            "delivery_key": key,
            "now": self.clock(),
            "work": Jsonb({"action": action, "match_id": match_id}),
            "lease_id": lease_id,
            "lease_seconds": LEASE_SECONDS,
        }
        if await self.database().fetch_one(QUERIES["record_delivery"], params) is None:
            return WebhookAck(duplicate=True, action=action)
        task = asyncio.create_task(self.process(action, match_id, key, lease_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return WebhookAck(action=action)

    async def pickup(self) -> PickupResult:
        """Do the work of deliveries recorded but not finished within their lease (the instance that
        answered died or was throttled), one at a time, in this call.

        Raises:
            DependencyUnavailableError: the database is down (the next run tries again).
        """
        done = PickupResult()
        started = time.monotonic()
        while time.monotonic() - started < PICKUP_BUDGET_SECONDS:
            lease_id = str(uuid.uuid4())
            params = {"source": SOURCE, "now": self.clock(), "lease_id": lease_id, "lease_seconds": LEASE_SECONDS}
            claimed = await self.database().fetch_one(QUERIES["claim_unfinished_delivery"], params)
            if claimed is None:
                break
            done.picked += 1
            key, work = claimed["delivery_key"], claimed["work"]
            if claimed["attempts"] > MAX_ATTEMPTS:
                log.error("match webhook given up", extra={"delivery_key": key, "attempts": claimed["attempts"]})
                result = {"error": "interrupted_repeatedly", "attempts": claimed["attempts"] - 1}
                done.given_up += await self._finish(key, lease_id, result)
            elif await self.process(work["action"], work["match_id"], key, lease_id):
                done.completed += 1
        return done

    async def drain(self) -> None:
        """Wait for the work already started (tests, graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def process(self, action: Action, match_id: str, key: str, lease_id: str) -> bool:
        """Do a delivery's work under `lease_id`; whether its result was recorded (False: another
        attempt took the delivery over meanwhile and records its own)."""
        result: dict[str, Any]
        with log_context(match_id=match_id, webhook=SOURCE):
            try:
                result = await self._generate(action, match_id)
            except DuplicatePostError as exc:
                result = {"duplicate_of": exc.existing_id}
            except AppError as exc:
                log.warning("match webhook work failed", extra={"error": exc.code, "detail": exc.message})
                result = {"error": exc.code, "message": exc.message}
            except Exception:
                log.exception("match webhook work crashed")
                result = {"error": "internal_error"}
            return await self._finish(key, lease_id, result)

    async def _finish(self, key: str, lease_id: str, result: dict[str, Any]) -> bool:
        params = {"source": SOURCE, "delivery_key": key, "now": self.clock(), "lease_id": lease_id}
        if await self.database().fetch_one(QUERIES["finish_delivery"], {**params, "result": Jsonb(result)}) is None:
            log.info("match webhook finished by another attempt", extra={"delivery_key": key})
            return False
        return True

    async def _generate(self, action: Action, match_id: str) -> dict[str, Any]:
        match = await self.database().fetch_one(QUERIES["match_by_id"], {"match_id": match_id})
        if match is None:
            return {"skipped": "the match no longer exists"}
        ws_id = str(match["workspace_id"])
        body = GenerateBody(workspace_id=match["workspace_id"], content_type=action, match_id=match["id"])
        scheduled_at = None
        if action == "match_result" and match["status"] != "finished":
            return {"skipped": f"the match is {match['status']} now"}
        if action == "matchday":
            workspace = await self.database().fetch_one(QUERIES["workspace"], {"workspace_id": ws_id})
            assert workspace is not None  # matches cascade with their workspace
            scheduled_at = matchday_slot(match["kickoff_at"], workspace, now=self.clock())
        out = await self.generator().generate(
            body,
            actor_user_id=None,
            dedupe_key=f"{action}:{match_id}",
            scheduled_at=scheduled_at,
            require_photos=False,
        )
        return {"post_id": str(out.post.id), "status": out.post.status, "caption_source": out.caption_source}
