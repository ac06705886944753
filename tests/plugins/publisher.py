"""Fixtures for publish-due: a workspace whose accounts hold real encrypted tokens the Instagram sandbox
accepts, posts whose images exist in local storage, and one virtual clock for everything.

    async def test_x(publish_world: PublishWorld) -> None:
        account = await publish_world.add_account()
        post_id = await publish_world.add_post(account, caption="post 1")
        result = await publish_world.run()

`WorldClock` is "now" for the database (passed to the publisher as its clock), for the sandbox (its
clock), and for the publisher's waits (`sleep` advances it): nothing in these tests sleeps for real.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sociallab.config import Settings, get_settings
from sociallab.crypto import generate_key_setting
from sociallab.db import Database, Row
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from sociallab.instagram.accounts import encrypt_token
from sociallab.instagram.client import InstagramClient
from sociallab.publishing import PublisherConfig, PublishHooks, PublishResult, publish_due
from sociallab.storage import Storage, close_storage, get_storage
from tests.integration import factories

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"

# Small waits: every wait goes through the world clock, so these only shape virtual time.
FAST = PublisherConfig(
    poll_initial_delay=1.0,
    poll_interval=1.0,
    poll_timeout=10.0,
    backoff_base_seconds=10.0,
    backoff_cap_seconds=600.0,
    backoff_floor_seconds=5.0,
    not_ready_retry_seconds=30.0,
    throttle_default_seconds=600.0,
)
# A run that takes only what is due now (no lookahead): for tests that look at a post between two runs.
NOW_ONLY = replace(FAST, lookahead_seconds=0.0)


class WorldClock:
    """One moving "now": a datetime for the database, epoch seconds for the sandbox."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now(UTC)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        """The publisher's wait: time passes, nobody waits."""
        self.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Account:
    id: str
    ig_user_id: str
    token: str
    username: str


@dataclass
class PublishWorld:
    db: Database
    sandbox: InstagramSandbox
    clock: WorldClock
    settings: Settings
    storage: Storage
    workspace_id: str
    accounts: list[Account] = field(default_factory=list)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def add_account(self, **overrides: Any) -> Account:
        """An active account with a valid long-lived token, known to the sandbox."""
        account_id = uuid.uuid4()
        ig_user_id = f"1784{uuid.uuid4().int % 10**12:012d}"
        token = "IGQsbxlong" + uuid.uuid4().hex + uuid.uuid4().hex
        key_id, ciphertext = encrypt_token(account_id, token)
        username = f"club_{ig_user_id[-6:]}"
        overrides.setdefault("token_expires_at", self.clock.now + timedelta(days=50))
        async with self.db.transaction() as tx:
            await factories.create_instagram_account(
                tx,
                self.workspace_id,
                id=account_id,
                ig_user_id=ig_user_id,
                username=username,
                token_ciphertext=ciphertext,
                token_key_id=key_id,
                **overrides,
            )
        self.sandbox.add_account(ig_user_id=ig_user_id, username=username, token=token)
        account = Account(str(account_id), ig_user_id, token, username)
        self.accounts.append(account)
        return account

    async def add_post(
        self,
        account: Account,
        *,
        caption: str,
        media_type: str = "IMAGE",
        images: int = 1,
        due_seconds_ago: float = 60,
        first_comment: str | None = None,
        hashtags: list[str] | None = None,
        **overrides: Any,
    ) -> str:
        """A scheduled post that has been due for `due_seconds_ago`, its images stored."""
        async with self.db.transaction() as tx:
            post = await factories.create_post(
                tx,
                self.workspace_id,
                status="scheduled",
                instagram_account_id=account.id,
                media_type=media_type,
                caption=caption,
                hashtags=hashtags or [],
                first_comment=first_comment,
                scheduled_at=self.clock.now - timedelta(seconds=due_seconds_ago),
                **overrides,
            )
            for position in range(images):
                row = await factories.add_post_media(tx, post, position=position)
                await self.storage.put(row["storage_path"], JPEG, "image/jpeg")
        return str(post["id"])

    def client(self) -> InstagramClient:
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        self._clients.append(http)
        return InstagramClient.from_settings(self.settings, http)

    async def run(
        self,
        *,
        config: PublisherConfig = FAST,
        hooks: PublishHooks | None = None,
        db: Database | None = None,
        client: InstagramClient | None = None,
        clock: Callable[[], datetime | None] | None = None,
        seed: int = 7,
    ) -> PublishResult:
        """One publish-due run on the world's clock (`clock=lambda: None` for the database's own)."""
        import random

        return await publish_due(
            db or self.db,
            client or self.client(),
            settings=self.settings,
            config=config,
            storage=self.storage,
            hooks=hooks,
            clock=clock or self.clock,
            sleep=self.clock.sleep,
            rng=random.Random(seed),
        )

    async def post(self, post_id: str) -> Row:
        row = await self.db.fetch_one("SELECT * FROM posts WHERE id = %(id)s", {"id": post_id})
        assert row is not None
        return row

    async def posts(self) -> list[Row]:
        return await self.db.fetch_all(
            "SELECT * FROM posts WHERE workspace_id = %(ws)s ORDER BY caption", {"ws": self.workspace_id}
        )

    async def events(self, post_id: str) -> list[Row]:
        return await self.db.fetch_all(
            "SELECT * FROM post_events WHERE post_id = %(id)s ORDER BY created_at", {"id": post_id}
        )

    async def aclose(self) -> None:
        for http in self._clients:
            await http.aclose()


@pytest.fixture
async def publish_world(
    db: Database,
    make_instagram_sandbox: Callable[..., tuple[InstagramSandbox, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[PublishWorld]:
    """A workspace, the sandbox (containers ready at once, on the world clock), local storage."""
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", generate_key_setting("k1"))
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.setenv("STORAGE_LOCAL_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("URL_SIGNING_KEY", "publisher-test-url-signing-key")
    monkeypatch.setenv("SCHEDULER_SECRET", "publisher-scheduler-secret")
    clock = WorldClock()
    sandbox, _ = make_instagram_sandbox(container_ready_after=0.0, clock=clock.epoch, seed=11)
    settings = get_settings()
    await close_storage()
    storage = get_storage()
    async with db.transaction() as tx:
        workspace = await factories.create_workspace(tx)
    world = PublishWorld(db, sandbox, clock, settings, storage, str(workspace["id"]))
    yield world
    await world.aclose()
    await close_storage()
