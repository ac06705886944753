"""Retry delays: exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter").

    delay = backoff_delay(attempt=3, base=30, cap=3600, rng=random.Random())

The n-th retry waits a uniformly random time in [0, min(cap, base * 2 ** (n - 1))], never less than
`floor`: spreading retries over the whole window keeps many posts that failed together (an Instagram
outage) from all coming back in the same second.
"""

from __future__ import annotations

import random


def backoff_ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The longest wait before retry number `attempt` (1-based): min(cap, base * 2 ** (attempt - 1)).

    Raises:
        ValueError: attempt < 1, or base/cap not positive.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    # 2 ** 60 already exceeds any cap; keeps the float finite for absurd attempt numbers.
    return min(cap, base * 2.0 ** min(attempt - 1, 60))


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random, floor: float = 1.0) -> float:
    """A full-jitter delay in seconds before retry number `attempt` (1-based), at least `floor`.

    Raises:
        ValueError: attempt < 1, or base/cap not positive.
    """
    ceiling = backoff_ceiling(attempt, base=base, cap=cap)
    return max(floor, rng.uniform(0.0, ceiling))
