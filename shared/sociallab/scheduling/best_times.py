"""Best times to post on an account in the coming 7 days.

- With audience data (`audience_online_hours`, from Instagram's `online_followers`): the hours of
  the coming week when most followers are online, scored 0..1 against the best hour, reason
  "your followers are most online". Slots are at least `MIN_GAP` apart so five suggestions are
  not five neighbouring hours of one evening.
- Without it (or to fill up when the data has fewer good hours than asked): the workspace's
  `default_post_time` on each coming day, in its time zone (DST-correct), score `DEFAULT_SCORE`,
  reason "workspace default".

Never in the past, always within 7 days of `now`, deterministic: best score first, then earliest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sociallab.db import Tx, load_queries
from sociallab.errors import NotFoundError
from sociallab.scheduling import times

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

HORIZON = timedelta(days=7)
MIN_GAP = timedelta(hours=3)
DEFAULT_SCORE = 0.5
REASON_AUDIENCE = "your followers are most online"
REASON_DEFAULT = "workspace default"


@dataclass(frozen=True)
class Slot:
    at: datetime  # UTC
    score: float  # 0..1
    reason: str


def audience_slots(hours: dict[tuple[int, int], float], *, now: datetime, count: int) -> list[Slot]:
    """Up to `count` hour starts in (now, now + 7 days], best audience first, `MIN_GAP` apart.

    `hours` maps (UTC weekday with 0 = Sunday, UTC hour) to followers online.
    """
    best = max(hours.values(), default=0)
    if best <= 0:
        return []
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    candidates = []
    at = start
    while at <= now + HORIZON:
        online = hours.get((at.isoweekday() % 7, at.hour), 0)
        if online > 0:
            candidates.append(Slot(at, round(online / best, 4), REASON_AUDIENCE))
        at += timedelta(hours=1)
    candidates.sort(key=lambda s: (-s.score, s.at))
    chosen: list[Slot] = []
    for slot in candidates:
        if len(chosen) == count:
            break
        if all(abs(slot.at - c.at) >= MIN_GAP for c in chosen):
            chosen.append(slot)
    return chosen


def default_slots(*, default_time: object, timezone: str, now: datetime) -> list[Slot]:
    """The workspace's default posting time on each day in (now, now + 7 days], earliest first."""
    tz = times.zone(timezone)
    today = now.astimezone(tz).date()
    slots = []
    for offset in range(9):
        at = times.local_time_on(today + timedelta(days=offset), default_time, tz)  # type: ignore[arg-type]
        if now < at <= now + HORIZON:
            slots.append(Slot(at, DEFAULT_SCORE, REASON_DEFAULT))
    return slots


async def suggest(tx: Tx, *, account_id: str, count: int, now: datetime) -> list[Slot]:
    """Up to `count` suggested slots for the account in the coming 7 days (see the module doc).

    The caller checks that the user may see the account.

    Raises:
        NotFoundError: no such account.
    """
    account = await tx.fetch_one(QUERIES["account_workspace"], {"account_id": account_id})
    if account is None:
        raise NotFoundError("No such Instagram account.")
    rows = await tx.fetch_all(
        QUERIES["online_hours"], {"account_id": account_id, "workspace_id": account["workspace_id"]}
    )
    hours = {(int(r["weekday"]), int(r["hour"])): float(r["followers_online"]) for r in rows}
    slots = audience_slots(hours, now=now, count=count)
    if len(slots) < count:
        taken = {s.at for s in slots}
        for slot in default_slots(default_time=account["default_post_time"], timezone=account["timezone"], now=now):
            if len(slots) == count:
                break
            if slot.at not in taken and all(abs(slot.at - s.at) >= MIN_GAP for s in slots):
                slots.append(slot)
    return slots


async def suggest_for_member(
    tx: Tx, *, account_id: str, user_id: str, count: int, now: datetime
) -> tuple[list[Slot], str]:
    """`suggest` for a user who must be a member of the account's workspace; also returns the
    workspace's time zone (to present the slots).

    Raises:
        NotFoundError: no such account, or one of a workspace the user is not in.
    """
    account = await tx.fetch_one(QUERIES["account_for_member"], {"account_id": account_id, "user_id": user_id})
    if account is None:
        raise NotFoundError("No such Instagram account.")
    return await suggest(tx, account_id=account_id, count=count, now=now), account["timezone"]
