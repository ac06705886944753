"""Best times to post on an account in the coming 7 days.

Each hour of the coming week is scored from two signals:

- the audience curve (`audience_online_hours`, Instagram's `online_followers` by UTC weekday and
  hour): followers online at that instant against the week's best hour, 0..1;
- the engagement of the account's own past posts published at that local hour of day (workspace
  time zone, so DST moves nothing): each post's engagement rate (interactions / reach) against the
  account's mean rate is its lift; a slot's lift is shrunk toward 1 (the audience prior alone) with
  the weight of `PRIOR_POSTS` posts, so one lucky post moves little and a dozen move a lot.

score = audience x lift, scaled so the best suggestion is 1. Without audience data, hours where the
account's posts did better than its average score `DEFAULT_SCORE` x lift. The workspace's
`default_post_time` on each coming day (DST-correct, score `DEFAULT_SCORE`, reason
"workspace default") fills up what is missing.

Suggestions keep `MIN_GAP` from each other and from the account's posts already scheduled (or
waiting for approval), are never in the past, always within 7 days of `now`, and deterministic:
best score first, then earliest. Each carries a reason a person understands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from sociallab.db import Tx, load_queries
from sociallab.errors import NotFoundError
from sociallab.scheduling import times

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

HORIZON = timedelta(days=7)
MIN_GAP = timedelta(hours=3)
DEFAULT_SCORE = 0.5
PRIOR_POSTS = 3.0  # how many posts' worth of weight the audience prior has in a slot's lift
HISTORY = timedelta(days=180)  # posts older than this say little about today's audience
REASON_DEFAULT = "workspace default"


@dataclass(frozen=True)
class Slot:
    at: datetime  # UTC
    score: float  # 0..1
    reason: str


@dataclass(frozen=True)
class PastPost:
    """One of the account's published media with insights."""

    posted_at: datetime
    engagement_rate: float  # interactions / reach


@dataclass(frozen=True)
class HourLift:
    """How the account's posts at one local hour of day did against its average."""

    posts: int
    observed: float  # mean lift of those posts (1 = the account's average)
    shrunk: float  # toward 1 with the weight of PRIOR_POSTS posts


def hour_lifts(posts: Sequence[PastPost], tz: tzinfo) -> dict[int, HourLift]:
    """Lift by local hour of day (0..23) of the posts published at that hour; absent hours have none."""
    rates = [p.engagement_rate for p in posts]
    mean = sum(rates) / len(rates) if rates else 0.0
    if mean <= 0:
        return {}
    by_hour: dict[int, list[float]] = defaultdict(list)
    for post in posts:
        by_hour[post.posted_at.astimezone(tz).hour].append(post.engagement_rate / mean)
    return {
        hour: HourLift(len(lifts), sum(lifts) / len(lifts), (sum(lifts) + PRIOR_POSTS) / (len(lifts) + PRIOR_POSTS))
        for hour, lifts in by_hour.items()
    }


def _reason(audience_share: float | None, lift: HourLift | None, local_hour: int) -> str:
    parts = []
    if audience_share is not None:
        parts.append(f"{round(audience_share * 100)} % of your followers' peak are online")
    if lift is not None:
        plural = "post" if lift.posts == 1 else "posts"
        parts.append(
            f"your {lift.posts} {plural} around {local_hour:02d}:00 got {lift.observed:.1f}x your average engagement"
        )
    return "; ".join(parts)


def _free(at: datetime, taken: Iterable[datetime]) -> bool:
    return all(abs(at - t) >= MIN_GAP for t in taken)


def rank_slots(
    audience: dict[tuple[int, int], float],
    posts: Sequence[PastPost],
    *,
    taken: Sequence[datetime],
    timezone: str,
    now: datetime,
    count: int,
) -> list[Slot]:
    """Up to `count` hour starts in (now, now + 7 days], best first (see the module doc).

    `audience` maps (UTC weekday with 0 = Sunday, UTC hour) to followers online; `taken` are the
    times of the account's posts already scheduled.
    """
    tz = times.zone(timezone)
    peak = max(audience.values(), default=0)
    lifts = hour_lifts(posts, tz)
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    raw: list[tuple[float, datetime, str]] = []
    at = start
    while at <= now + HORIZON:
        local_hour = at.astimezone(tz).hour
        lift = lifts.get(local_hour)
        if peak > 0:
            share = audience.get((at.isoweekday() % 7, at.hour), 0) / peak
            if share > 0:
                raw.append((share * (lift.shrunk if lift else 1.0), at, _reason(share, lift, local_hour)))
        elif lift is not None and lift.shrunk > 1:
            raw.append((min(1.0, DEFAULT_SCORE * lift.shrunk), at, _reason(None, lift, local_hour)))
        at += timedelta(hours=1)
    scale = max((r[0] for r in raw), default=0) if peak > 0 else 1.0
    candidates = [Slot(at, round(score / scale, 4), why) for score, at, why in raw]
    candidates.sort(key=lambda s: (-s.score, s.at))
    chosen: list[Slot] = []
    for slot in candidates:
        if len(chosen) == count:
            break
        if _free(slot.at, taken) and _free(slot.at, (c.at for c in chosen)):
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
    params = {"account_id": account_id, "workspace_id": account["workspace_id"]}
    audience = {
        (int(r["weekday"]), int(r["hour"])): float(r["followers_online"])
        for r in await tx.fetch_all(QUERIES["online_hours"], params)
    }
    posts = [
        PastPost(r["posted_at"], float(r["engagement_rate"]))
        for r in await tx.fetch_all(QUERIES["past_posts"], {**params, "since": now - HISTORY})
    ]
    taken = [
        r["scheduled_at"]
        for r in await tx.fetch_all(
            QUERIES["taken_times"], {**params, "from": now - MIN_GAP, "to": now + HORIZON + MIN_GAP}
        )
    ]
    timezone = account["timezone"]
    slots = rank_slots(audience, posts, taken=taken, timezone=timezone, now=now, count=count)
    for slot in default_slots(default_time=account["default_post_time"], timezone=timezone, now=now):
        if len(slots) >= count:
            break
        if _free(slot.at, taken) and _free(slot.at, (s.at for s in slots)):
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
