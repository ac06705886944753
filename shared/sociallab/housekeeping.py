"""Housekeeping: delete what only served a short while, so no table grows forever.

    result = await prune(db)   # -> PruneResult, counts of deleted rows

Run daily by the `housekeeping` function. What is deleted (and the retention) is in `housekeeping.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sociallab.db import Database, load_queries

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

COUNTER_RETENTION_S = 2 * 86_400  # rate-limit minutes and Gemini days
RECEIPT_RETENTION_S = 30 * 86_400  # webhook deliveries and scheduler ticks
STATE_RETENTION_S = 86_400  # after an OAuth state expired


@dataclass(frozen=True)
class PruneResult:
    usage_counters: int
    webhook_receipts: int
    oauth_states: int


async def prune(db: Database, *, now: datetime | None = None) -> PruneResult:
    """Delete expired rate-limit and budget counters, old webhook receipts and expired OAuth states.

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    row = await db.fetch_one(
        QUERIES["prune"],
        {
            "now": now,
            "counter_seconds": COUNTER_RETENTION_S,
            "receipt_seconds": RECEIPT_RETENTION_S,
            "state_seconds": STATE_RETENTION_S,
        },
    )
    assert row is not None  # an aggregate always answers
    return PruneResult(**row)
