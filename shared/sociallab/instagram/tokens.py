"""The daily token job behind `refresh-tokens`: keep long-lived Instagram tokens alive.

Instagram refreshes a long-lived token only when it is at least 24 h old and not expired; a token that
is never refreshed dies after 60 days. Each run, once per UTC day:

1. claims the day (`webhook_receipts` row `('scheduler.refresh-tokens', <YYYY-MM-DD>)`): a repeated tick
   the same day is acknowledged and does nothing; a run that crashed can be taken over after
   `stale_after` seconds;
2. refreshes every token that is >= 24 h old (`token_refreshed_at`) and expires within 15 days, with
   bounded concurrency, no row lock held during the API call, and an optimistic write (a token written
   meanwhile by a reconnect is never overwritten); the new token is encrypted with the current key;
3. re-encrypts tokens still under an older key id (key rotation), without calling Instagram;
4. records the result on the receipt.

Outcomes per account: refreshed; `reauth_required` on an invalid token (190: account status, its
scheduled posts parked, one notification — `accounts.mark_reauth_required`); any other error leaves
the token as it is, is recorded in the run's result, and becomes a warning notification when the token
expires within 3 days.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sociallab.crypto import DecryptionError, TokenCipher
from sociallab.db import Database, Row
from sociallab.instagram import accounts
from sociallab.instagram.accounts import QUERIES
from sociallab.instagram.client import InstagramClient
from sociallab.instagram.errors import InstagramError, TokenInvalidError
from sociallab.logging import get_logger, log_context
from sociallab.results import NOT_IN_RESPONSE, response_fields

log = get_logger(__name__)

ACTOR = "refresh-tokens"
LONG_LIVED_SECONDS = 60 * 24 * 3600
WARN_BEFORE = timedelta(days=3)


@dataclass(frozen=True)
class RefreshPolicy:
    min_age: timedelta = timedelta(hours=24)  # Instagram refuses younger tokens
    expiry_window: timedelta = timedelta(days=15)  # refresh what expires within this
    concurrency: int = 8
    batch_limit: int = 5000
    stale_after: timedelta = timedelta(minutes=15)  # take over a day's run that never finished


@dataclass
class RefreshResult:
    """What a day's refresh did: `refresh-tokens`' response body as it is (API.md: always 200,
    failures are recorded, not raised). `failures` (per account) goes to the day's receipt and the
    log, not into the response."""

    day: str
    already_ran: bool = False
    considered: int = 0
    refreshed: int = 0
    reencrypted: int = 0
    reauth_required: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list, metadata=NOT_IN_RESPONSE)


async def refresh_tokens(
    db: Database,
    client: InstagramClient,
    *,
    cipher: TokenCipher | None = None,
    policy: RefreshPolicy | None = None,
    now: datetime | None = None,
) -> RefreshResult:
    """Run the day's token refresh (see the module docstring).

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset or malformed.
        DependencyUnavailableError: the database is unavailable.
    """
    policy = policy or RefreshPolicy()
    cipher = cipher or accounts.get_cipher()
    started = now or datetime.now(UTC)
    result = RefreshResult(day=started.date().isoformat())
    claimed = await db.fetch_val(
        QUERIES["claim_refresh_run"], {"day": result.day, "stale_after": policy.stale_after.total_seconds()}
    )
    if claimed is None:
        result.already_ran = True
        log.info("token refresh already ran today", extra={"day": result.day})
        return result

    candidates = await db.fetch_all(
        QUERIES["refresh_candidates"],
        {
            "now": started,
            "expiry_window": policy.expiry_window.total_seconds(),
            "min_age": policy.min_age.total_seconds(),
            "limit": policy.batch_limit,
        },
    )
    result.considered = len(candidates)
    gate = asyncio.Semaphore(max(1, policy.concurrency))

    async def one(row: Row) -> None:
        async with gate:
            with log_context(workspace_id=str(row["workspace_id"]), instagram_account_id=str(row["id"])):
                await _refresh_one(db, client, cipher, row, result, started)

    await asyncio.gather(*(one(row) for row in candidates))
    await reencrypt_old_keys(db, cipher, result, policy.batch_limit)
    await db.execute(
        QUERIES["finish_refresh_run"],
        {"day": result.day, "result": json.dumps(asdict(result))},
    )
    log.info("token refresh done", extra=response_fields(result))
    return result


async def _refresh_one(
    db: Database, client: InstagramClient, cipher: TokenCipher, row: Row, result: RefreshResult, now: datetime
) -> None:
    account_id = str(row["id"])
    try:
        token = accounts.decrypt_token(account_id, row["token_key_id"], row["token_ciphertext"], cipher=cipher)
    except DecryptionError as exc:
        _failed(result, account_id, "decryption_failed", exc.message)
        log.error("stored instagram token cannot be decrypted", extra={"error": exc.message})
        return
    try:
        grant = await client.refresh_token(token)
    except TokenInvalidError as exc:
        async with db.transaction() as tx:
            outcome = await accounts.mark_reauth_required(tx, account_id, exc.reason, actor=ACTOR)
        result.reauth_required += 1
        log.warning(
            "instagram token rejected on refresh",
            extra={"ig_code": exc.meta_code, "ig_subcode": exc.subcode, "parked_posts": len(outcome.parked_post_ids)},
        )
        return
    except InstagramError as exc:
        _failed(result, account_id, type(exc).__name__, exc.reason)
        log.warning(
            "instagram token refresh failed",
            extra={"error": type(exc).__name__, "ig_code": exc.meta_code, "ig_subcode": exc.subcode},
        )
        if row["token_expires_at"] - now <= WARN_BEFORE:
            await _warn_expiring(db, row)
        return
    expires_at = now + timedelta(seconds=grant.expires_in or LONG_LIVED_SECONDS)
    async with db.transaction() as tx:
        written = await accounts.replace_token(
            tx, account_id, grant.access_token, expires_at, seen_refreshed_at=row["token_refreshed_at"], cipher=cipher
        )
    if written:
        result.refreshed += 1
        if cipher.needs_reencryption(row["token_key_id"]):
            result.reencrypted += 1
        log.info("instagram token refreshed", extra={"expires_at": expires_at.isoformat()})
    else:
        log.info("instagram token changed during refresh; kept the newer one")


async def reencrypt_old_keys(db: Database, cipher: TokenCipher, result: RefreshResult, limit: int) -> None:
    """Rotation: up to `limit` tokens still encrypted under an older key id get the current key (no
    Instagram call), counted in `result.reencrypted`; a token that does not decrypt is recorded in
    `result.failures` and left as it is.

    Raises:
        DependencyUnavailableError: the database is unavailable.
    """
    rows = await db.fetch_all(QUERIES["old_key_tokens"], {"current_key_id": cipher.current_key_id, "limit": limit})
    for row in rows:
        account_id = str(row["id"])
        try:
            token = accounts.decrypt_token(account_id, row["token_key_id"], row["token_ciphertext"], cipher=cipher)
        except DecryptionError as exc:
            _failed(result, account_id, "decryption_failed", exc.message)
            continue
        key_id, ciphertext = accounts.encrypt_token(account_id, token, cipher=cipher)
        changed = await db.execute(
            QUERIES["reencrypt_token"],
            {
                "account_id": account_id,
                "key_id": key_id,
                "ciphertext": ciphertext,
                "old_key_id": row["token_key_id"],
                "old_ciphertext": row["token_ciphertext"],
            },
        )
        result.reencrypted += changed


async def _warn_expiring(db: Database, row: Row) -> None:
    await db.execute(
        QUERIES["insert_notification"],
        {
            "workspace_id": str(row["workspace_id"]),
            "kind": "instagram.token_expiring",
            "severity": "warning",
            "message": "Instagram could not renew this account's login and it expires soon; reconnect it.",
            "detail": json.dumps(
                {"instagram_account_id": str(row["id"]), "expires_at": row["token_expires_at"].isoformat()}
            ),
            "dedupe_key": f"instagram.token_expiring:{row['id']}",
        },
    )


def _failed(result: RefreshResult, account_id: str, error: str, reason: str) -> None:
    result.failed += 1
    result.failures.append({"instagram_account_id": account_id, "error": error, "reason": reason})
