"""Instagram accounts: the encrypted token at rest, and what happens when it stops working.

Tokens are AES-256-GCM encrypted with `TOKEN_ENCRYPTION_KEY` (`sociallab.crypto.TokenCipher`); the key
id is stored beside the ciphertext (`token_key_id`) so keys can rotate, and the associated data is
the account id (`str(account_id).encode()`), so a ciphertext copied to another row does not decrypt::

    async with db.transaction() as tx:
        token = await load_token(tx, account_id)                 # for an API call
        await mark_reauth_required(tx, account_id, "Instagram said the token is invalid (190).",
                                   actor="publish-due")          # parks posts, notifies once

`mark_reauth_required` sets the account status, parks the account's `scheduled` posts (status
`failed`, failure_reason `reauth_required`: recoverable with `POST /posts/{id}/retry` after a
reconnect) and records one unread `instagram.reauth_required` notification per account.

Errors::

    AppError
     ├── NotFoundError
     │    └── AccountNotFoundError         no such account
     └── ConflictError
          └── ReauthRequiredError          no usable token: reauth_required, disconnected, expired, none
    DecryptionError (sociallab.crypto)     the key id is gone from TOKEN_ENCRYPTION_KEY, or tampering
    ConfigurationError                     TOKEN_ENCRYPTION_KEY unset or malformed
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from sociallab.config import Settings, get_settings
from sociallab.crypto import TokenCipher
from sociallab.db import Row, Tx, load_queries
from sociallab.errors import ConflictError, NotFoundError

QUERIES = load_queries(Path(__file__).with_name("accounts.sql"))

REAUTH_FAILURE_REASON = "reauth_required"
NOTIFICATION_KIND = "instagram.reauth_required"
AccountId = UUID | str


class AccountNotFoundError(NotFoundError):
    """This Instagram account does not exist."""


class ReauthRequiredError(ConflictError):
    """This Instagram account must be reconnected before it can be used."""

    code = "instagram_reauth_required"

    def __init__(self, message: str | None = None, *, account_id: AccountId, reason: str) -> None:
        super().__init__(message)
        self.account_id = str(account_id)
        self.reason = reason  # reauth_required | disconnected | token_expired | no_token


@dataclass(frozen=True)
class StoredAccount:
    """An account row after its token was stored (never carries the token)."""

    id: str
    workspace_id: str
    ig_user_id: str
    username: str | None
    status: str
    created: bool
    token_expires_at: datetime | None


@dataclass(frozen=True)
class ReauthResult:
    changed: bool  # False when the account was already reauth_required
    parked_post_ids: list[str]
    notification_id: str | None  # None when an unread notification for the account already existed


# --- encryption ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _cipher_for(setting: str) -> TokenCipher:
    return TokenCipher.from_setting(setting)


def get_cipher(settings: Settings | None = None) -> TokenCipher:
    """The token cipher for `TOKEN_ENCRYPTION_KEY` (parsed once per key setting).

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
    """
    return _cipher_for((settings or get_settings()).secret("token_encryption_key"))


def associated_data(account_id: AccountId) -> bytes:
    """What a token's ciphertext is bound to: the account id as text."""
    return str(account_id).encode()


def encrypt_token(account_id: AccountId, token: str, *, cipher: TokenCipher | None = None) -> tuple[str, bytes]:
    """`(key_id, ciphertext)` of `token` under the current key, bound to `account_id`.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
    """
    return (cipher or get_cipher()).encrypt(token, associated_data=associated_data(account_id))


def decrypt_token(account_id: AccountId, key_id: str, ciphertext: bytes, *, cipher: TokenCipher | None = None) -> str:
    """The plaintext token of a stored `(key_id, ciphertext)`, for callers that already read the row.

    Raises:
        DecryptionError: the key id is no longer configured, or the blob was tampered with or moved.
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
    """
    return (cipher or get_cipher()).decrypt(key_id, bytes(ciphertext), associated_data=associated_data(account_id))


# --- reading -------------------------------------------------------------------------------------


def usable_token(row: Row, *, cipher: TokenCipher | None = None, now: datetime | None = None) -> str:
    """The token of an account row (id, status, token_ciphertext, token_key_id, token_expires_at).

    Raises:
        ReauthRequiredError: the account needs a reconnect, has no token, or the token expired.
        DecryptionError, ConfigurationError: as `decrypt_token`.
    """
    account_id = row["id"]
    if row["status"] in ("reauth_required", "disconnected"):
        raise ReauthRequiredError(
            f"The Instagram account must be reconnected ({row.get('status_reason') or row['status']}).",
            account_id=account_id,
            reason=row["status"],
        )
    if row["token_ciphertext"] is None or row["token_key_id"] is None:
        raise ReauthRequiredError("The Instagram account has no token.", account_id=account_id, reason="no_token")
    expires_at = row.get("token_expires_at")
    if expires_at is not None and expires_at <= (now or datetime.now(UTC)):
        raise ReauthRequiredError("The Instagram token has expired.", account_id=account_id, reason="token_expired")
    return decrypt_token(account_id, row["token_key_id"], row["token_ciphertext"], cipher=cipher)


async def load_token(tx: Tx, account_id: AccountId, *, cipher: TokenCipher | None = None) -> str:
    """The decrypted access token of an account, if it can be used.

    Raises:
        AccountNotFoundError: no such account.
        ReauthRequiredError: reauth_required, disconnected, no token, or an expired token.
        DecryptionError: the key id is no longer configured, or the ciphertext was tampered with.
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
    """
    row = await tx.fetch_one(QUERIES["account_token"], {"account_id": str(account_id)})
    if row is None:
        raise AccountNotFoundError()
    return usable_token(row, cipher=cipher)


# --- writing -------------------------------------------------------------------------------------


async def store_token(
    tx: Tx,
    *,
    workspace_id: AccountId,
    ig_user_id: str,
    access_token: str,
    expires_at: datetime | None,
    scopes: list[str] | None = None,
    profile: dict[str, Any] | None = None,
    connected_by: AccountId | None = None,
    cipher: TokenCipher | None = None,
) -> StoredAccount:
    """Create or update the account `(workspace_id, ig_user_id)` with a new encrypted token.

    A reconnect updates the existing row (never a second one) and makes it `active` again (unless
    a throttling pause is still running); its unread reauth notification is marked read. Everything
    happens in `tx`, so if the transaction fails the previous token is kept. `profile` may carry
    username, name, account_type, profile_picture_url, followers_count.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
        UnprocessableError: the workspace does not exist.
    """
    created_row = await tx.fetch_one(
        QUERIES["upsert_account_row"],
        {
            "workspace_id": str(workspace_id),
            "ig_user_id": ig_user_id,
            "connected_by": str(connected_by) if connected_by else None,
        },
    )
    assert created_row is not None
    account_id = created_row["id"]
    row = await _save_token(
        tx,
        account_id,
        access_token,
        expires_at,
        scopes=scopes,
        profile=profile or {},
        connected_by=connected_by,
        cipher=cipher,
    )
    assert row is not None  # the row is locked by the upsert above
    await tx.execute(
        QUERIES["resolve_reauth_notifications"],
        {"workspace_id": str(workspace_id), "dedupe_key": notification_key(account_id)},
    )
    return StoredAccount(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        ig_user_id=row["ig_user_id"],
        username=row["username"],
        status=row["status"],
        created=bool(created_row["created"]),
        token_expires_at=row["token_expires_at"],
    )


async def replace_token(
    tx: Tx,
    account_id: AccountId,
    access_token: str,
    expires_at: datetime | None,
    *,
    seen_refreshed_at: datetime | None,
    cipher: TokenCipher | None = None,
) -> bool:
    """Store a refreshed token (encrypted with the current key) unless a newer one was written since
    `seen_refreshed_at` (what the caller read). Returns whether it was written.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
    """
    row = await _save_token(
        tx, account_id, access_token, expires_at, guarded=True, seen_refreshed_at=seen_refreshed_at, cipher=cipher
    )
    return row is not None


async def _save_token(
    tx: Tx,
    account_id: AccountId,
    access_token: str,
    expires_at: datetime | None,
    *,
    scopes: list[str] | None = None,
    profile: dict[str, Any] | None = None,
    connected_by: AccountId | None = None,
    guarded: bool = False,
    seen_refreshed_at: datetime | None = None,
    cipher: TokenCipher | None = None,
) -> Row | None:
    key_id, ciphertext = encrypt_token(account_id, access_token, cipher=cipher)
    profile = profile or {}
    return await tx.fetch_one(
        QUERIES["save_token"],
        {
            "account_id": str(account_id),
            "ciphertext": ciphertext,
            "key_id": key_id,
            "expires_at": expires_at,
            "scopes": scopes,
            "username": profile.get("username"),
            "name": profile.get("name"),
            "account_type": profile.get("account_type"),
            "profile_picture_url": profile.get("profile_picture_url"),
            "followers_count": profile.get("followers_count"),
            "connected_by": str(connected_by) if connected_by else None,
            "guarded": guarded,
            "seen_refreshed_at": seen_refreshed_at,
        },
    )


# --- when the token stops working ---------------------------------------------------------------


def notification_key(account_id: AccountId) -> str:
    """The dedupe key of an account's "reconnect Instagram" notification."""
    return f"instagram.reauth_required:{account_id}"


async def park_posts(
    tx: Tx, account_id: AccountId, *, actor: str, message: str | None = None, error_code: str | None = "190"
) -> list[str]:
    """Park every `scheduled` post of the account: status `failed`, failure_reason `reauth_required`,
    a readable `last_error`, one post_events row each. Posts in `publishing` are left to the run that
    holds their lease. Returns the parked post ids. Never raises for a valid account id.
    """
    rows = await tx.fetch_all(
        QUERIES["park_posts"],
        {
            "account_id": str(account_id),
            "failure_reason": REAUTH_FAILURE_REASON,
            "message": message or "The Instagram account must be reconnected; retry the post after reconnecting.",
            "actor": actor,
            "error_code": error_code,
        },
    )
    return [str(row["id"]) for row in rows]


async def notify_reauth_required(
    tx: Tx, workspace_id: AccountId, account_id: AccountId, username: str | None
) -> str | None:
    """Record the unread "reconnect Instagram" notification of an account (once until read).

    Returns the new notification id, or None when an unread one already exists. Never raises for a
    valid workspace.
    """
    who = f"@{username}" if username else "your Instagram account"
    return await tx.fetch_val(
        QUERIES["insert_notification"],
        {
            "workspace_id": str(workspace_id),
            "kind": NOTIFICATION_KIND,
            "severity": "error",
            "message": f"Reconnect {who}: Instagram no longer accepts its login. Scheduled posts are on hold.",
            "detail": json.dumps({"instagram_account_id": str(account_id), "username": username}),
            "dedupe_key": notification_key(account_id),
        },
    )


async def mark_reauth_required(
    tx: Tx, account_id: AccountId, reason: str, *, actor: str = "system", park: bool = True
) -> ReauthResult:
    """The account's token no longer works (e.g. Instagram error 190): status `reauth_required` with
    `reason` (readable, no secrets), its scheduled posts parked (see `park_posts`, skipped with
    `park=False`), and one unread notification. Safe to call again: already-parked posts stay
    parked, no second notification is made while the first is unread.

    Raises:
        AccountNotFoundError: no such account.
    """
    changed = await tx.fetch_one(QUERIES["set_reauth_required"], {"account_id": str(account_id), "reason": reason})
    account = changed or await tx.fetch_one(QUERIES["account_brief"], {"account_id": str(account_id)})
    if account is None:
        raise AccountNotFoundError()
    parked = await park_posts(tx, account_id, actor=actor) if park else []
    notification = await notify_reauth_required(tx, account["workspace_id"], account_id, account["username"])
    return ReauthResult(
        changed=changed is not None,
        parked_post_ids=parked,
        notification_id=str(notification) if notification else None,
    )
