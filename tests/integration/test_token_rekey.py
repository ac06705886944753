"""Rotating TOKEN_ENCRYPTION_KEY: `python -m sociallab.instagram.rekey` puts every stored token under
the new key now, and says whether the old key may go (README, "Runbook")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from sociallab.crypto import TokenCipher, generate_key_setting
from sociallab.db import Database
from sociallab.instagram import accounts
from sociallab.instagram.rekey import reencrypt_all
from tests.integration.factories import create_instagram_account, create_workspace

pytestmark = pytest.mark.integration

OLD = generate_key_setting("k1")
NEW = generate_key_setting("k2")
ROTATED = f"{NEW},{OLD}"  # the new key first: it encrypts; both decrypt


async def store(db: Database, count: int, cipher: TokenCipher) -> dict[str, str]:
    """`count` accounts with tokens encrypted by `cipher`: {account id: token}."""
    stored: dict[str, str] = {}
    async with db.transaction() as tx:
        workspace = await create_workspace(tx)
        for number in range(count):
            token = f"IGAA-token-{number}"
            account = await accounts.store_token(
                tx,
                workspace_id=workspace["id"],
                ig_user_id=f"1784140000000{number:04d}",
                access_token=token,
                expires_at=datetime.now(UTC) + timedelta(days=60),
                cipher=cipher,
            )
            stored[account.id] = token
    return stored


async def tokens_under(db: Database, cipher: TokenCipher, ids: list[str]) -> dict[str, str]:
    rows = await db.fetch_all(
        "SELECT id::text AS id, token_key_id, token_ciphertext FROM public.instagram_accounts"
        " WHERE id = ANY(%(ids)s::uuid[])",
        {"ids": ids},
    )
    return {
        row["id"]: accounts.decrypt_token(row["id"], row["token_key_id"], row["token_ciphertext"], cipher=cipher)
        for row in rows
    }


async def test_every_token_moves_to_the_new_key_batch_after_batch(db: Database) -> None:
    stored = await store(db, 5, TokenCipher.from_setting(OLD))
    outcome = await reencrypt_all(db, TokenCipher.from_setting(ROTATED), batch=2)
    assert outcome == {"current_key_id": "k2", "reencrypted": 5, "failed": [], "tokens_by_key_id": {"k2": 5}}
    # Readable with the new key alone: the old one can be dropped.
    assert await tokens_under(db, TokenCipher.from_setting(NEW), list(stored)) == stored


def rekey(database_url: str, key_setting: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "TOKEN_ENCRYPTION_KEY": key_setting}
    return subprocess.run(
        [sys.executable, "-m", "sociallab.instagram.rekey"], env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_command_reencrypts_and_exits_0_when_the_old_key_may_go(db: Database, database_url: str) -> None:
    stored = await store(db, 3, TokenCipher.from_setting(OLD))
    done = rekey(database_url, ROTATED)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "current_key_id": "k2",
        "reencrypted": 3,
        "failed": [],
        "tokens_by_key_id": {"k2": 3},
    }
    assert await tokens_under(db, TokenCipher.from_setting(NEW), list(stored)) == stored
    assert all(token not in done.stdout + done.stderr for token in stored.values())
    assert rekey(database_url, ROTATED).returncode == 0  # again: nothing left to do


async def test_a_token_under_a_key_no_longer_listed_keeps_the_old_key_needed(db: Database, database_url: str) -> None:
    await store(db, 2, TokenCipher.from_setting(OLD))
    async with db.transaction() as tx:
        workspace = await create_workspace(tx)
        lost = await create_instagram_account(tx, workspace["id"], token_key_id="k0")  # a key nobody has any more
    done = rekey(database_url, ROTATED)
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["failed"] == [str(lost["id"])]
    assert outcome["tokens_by_key_id"] == {"k0": 1, "k2": 2}


async def test_a_malformed_key_is_refused_without_echoing_it(database_url: str) -> None:
    done = rekey(database_url, "k2:not-a-key")
    assert done.returncode == 2
    assert "TOKEN_ENCRYPTION_KEY" in done.stderr and "not-a-key" not in done.stderr
