"""Fixed-window rate limits counted in Postgres (`usage_counters`), so every instance shares them."""

from __future__ import annotations

from pathlib import Path

from sociallab.db import Tx, load_queries
from sociallab.errors import RateLimitedError

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


async def hit(tx: Tx, *, scope: str, key: str, limit: int, window_seconds: int = 60) -> int:
    """Count one call of `key` in `scope`; returns how many were made in this window.

    Raises:
        RateLimitedError: more than `limit` calls in the window (`retry_after` = seconds left in it).
    """
    row = await tx.fetch_one(QUERIES["hit"], {"scope": scope, "key": key, "window_seconds": window_seconds})
    assert row is not None
    if row["count"] > limit:
        raise RateLimitedError(
            f"Too many requests: at most {limit} per {window_seconds} s.", retry_after=row["seconds_left"]
        )
    return int(row["count"])
