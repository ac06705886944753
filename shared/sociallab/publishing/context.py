"""What the steps of one publish-due run share: the run context, the outcome of a post, and the
publisher's own reasons for stopping work on a post."""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sociallab.crypto import TokenCipher
from sociallab.db import Row
from sociallab.instagram.accounts import usable_token
from sociallab.instagram.client import InstagramClient, PublishingLimit
from sociallab.publishing.config import PublisherConfig, PublishHooks, PublishResult
from sociallab.publishing.store import ClaimedPost, PublisherStore
from sociallab.storage import Storage


class Outcome(enum.Enum):
    PUBLISHED = "published"
    RETRY = "retry"
    FAILED = "failed"
    RESCHEDULED = "rescheduled"
    PAUSED = "paused"  # the account is paused: stop working on it
    PARKED = "parked"  # the account needs a reconnect: stop working on it
    LOST = "lost"  # the lease is gone: stop working on it
    ERROR = "error"  # something unexpected; the lease will run out

    @property
    def stops_account(self) -> bool:
        return self in (Outcome.PAUSED, Outcome.PARKED, Outcome.LOST, Outcome.ERROR)


class LeaseLostError(Exception):
    """Another run reclaimed the post (this run was too slow); it must not touch it any more."""


class InvalidPostError(Exception):
    """The post cannot be published as it is (no image, wrong number of images)."""


class InterruptedTooOftenError(Exception):
    """Runs working on the post kept stopping before they finished (each reclaim counts an attempt)."""


class ContainerFailedError(Exception):
    """Instagram could not process the container (status ERROR)."""


class QuotaReachedError(Exception):
    """The account's 24 h publishing quota is used up (read from content_publishing_limit)."""

    def __init__(self, window_seconds: int) -> None:
        super().__init__("The account reached Instagram's 24 hour publishing limit.")
        self.window_seconds = window_seconds


@dataclass
class RunContext:
    """What every post of one run shares."""

    store: PublisherStore
    client: InstagramClient
    storage: Storage
    cipher: TokenCipher
    config: PublisherConfig
    hooks: PublishHooks
    result: PublishResult
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random
    clock: Callable[[], datetime | None]
    limits: dict[str, PublishingLimit] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock() or datetime.now(UTC)

    async def wait_until(self, moment: datetime) -> None:
        """Return at `moment` (at once when it has passed)."""
        delay = (moment - self.now()).total_seconds()
        if delay > 0:
            await self.sleep(delay)

    def token_for(self, post: ClaimedPost) -> str:
        """The account's decrypted token (once per account per run).

        Raises:
            ReauthRequiredError: no usable token (reconnect needed, expired). DecryptionError.
        """
        return self.account_token(post.account_id, post.account_row)

    def account_token(self, account_id: str, account_row: Row) -> str:
        """`token_for` by account (its row: id, status, token_ciphertext, token_key_id, token_expires_at).

        Raises:
            ReauthRequiredError, DecryptionError: as `token_for`.
        """
        if account_id not in self.tokens:
            self.tokens[account_id] = usable_token(account_row, cipher=self.cipher, now=self.now())
        return self.tokens[account_id]
