"""Re-encrypt every stored Instagram token with the current TOKEN_ENCRYPTION_KEY (key rotation).

    DATABASE_URL=<direct connection> TOKEN_ENCRYPTION_KEY='k2:<new>,k1:<old>' \\
        python -m sociallab.instagram.rekey

The first key of TOKEN_ENCRYPTION_KEY encrypts; every listed key decrypts. The daily refresh-tokens
run re-encrypts too, but a few at a time and only once a day; this does all of them now. It prints
one JSON line, `{"current_key_id", "reencrypted", "failed", "tokens_by_key_id"}`, and exits 0 when
every token is under the current key (the old key may then be dropped from the secret), 1 when some
token is not (listed in `failed` by account id: it did not decrypt with any configured key).
Safe to run while the functions run: a token written meanwhile is never overwritten.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sociallab.config import Settings, get_settings
from sociallab.crypto import TokenCipher
from sociallab.db import Database
from sociallab.errors import AppError
from sociallab.instagram import accounts
from sociallab.instagram.tokens import RefreshResult, reencrypt_old_keys

BATCH = 500


async def reencrypt_all(db: Database, cipher: TokenCipher, *, batch: int = BATCH) -> dict[str, Any]:
    """Re-encrypt, batch after batch, until a batch changes nothing; then count tokens per key id.

    Raises:
        DependencyUnavailableError: the database is unavailable.
    """
    result = RefreshResult(day=datetime.now(UTC).date().isoformat())
    while True:
        before = result.reencrypted
        result.failures.clear()
        await reencrypt_old_keys(db, cipher, result, batch)
        if result.reencrypted == before:
            break
    rows = await db.fetch_all(accounts.QUERIES["tokens_by_key_id"])
    return {
        "current_key_id": cipher.current_key_id,
        "reencrypted": result.reencrypted,
        "failed": sorted(failure["instagram_account_id"] for failure in result.failures),
        "tokens_by_key_id": {row["token_key_id"]: row["tokens"] for row in rows},
    }


async def _run(settings: Settings) -> dict[str, Any]:
    cipher = accounts.get_cipher(settings)
    settings.require("database_url")
    assert settings.database_url is not None
    db = Database(settings.database_url, max_size=2)
    await db.open()
    try:
        return await reencrypt_all(db, cipher)
    finally:
        await db.close()


def main() -> int:
    try:
        outcome = asyncio.run(_run(get_settings()))
    except AppError as exc:
        print(f"rekey: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(outcome, sort_keys=True))
    only_current = set(outcome["tokens_by_key_id"]) <= {outcome["current_key_id"]}
    return 0 if only_current and not outcome["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
