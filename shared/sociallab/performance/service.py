"""The insights API's reads: an account's days, each published post's figures, each template's
figures with the selector's belief. Posts and days come from the views of migration 016
(`post_performance`, `account_daily_insights`); the caller checks membership."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallab.content.learning import Belief, choice_probabilities
from sociallab.db import Row, Tx, load_queries
from sociallab.errors import NotFoundError
from sociallab.performance.api_models import (
    BeliefOut,
    DayOut,
    PostPerformanceList,
    PostPerformanceOut,
    SummaryOut,
    TemplatePerformanceList,
    TemplatePerformanceOut,
    TemplateRef,
)
from sociallab.scheduling import times
from sociallab.scheduling.posts import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from sociallab.content.templates import TemplateRecord

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


async def account_summary(tx: Tx, *, account_id: str, user_id: str, days: int, today: date) -> SummaryOut:
    """The account's metrics by UTC day for the `days` days ending `today`.

    Raises:
        NotFoundError: no such account, or one of a workspace the user is not in.
    """
    account = await tx.fetch_one(QUERIES["account_for_member"], {"account_id": account_id, "user_id": user_id})
    if account is None:
        raise NotFoundError("No such Instagram account.")
    rows = await tx.fetch_all(
        QUERIES["daily"],
        {
            "account_id": account_id,
            "workspace_id": account["workspace_id"],
            "first": today - timedelta(days=days - 1),
            "last": today,
        },
    )
    metrics = ("followers", "new_followers", "reach", "views", "accounts_engaged", "total_interactions")
    return SummaryOut(
        instagram_account_id=account["id"],
        username=account["username"],
        followers=account["followers_count"],
        days=[DayOut(day=row["day"], **{m: _count(row[m]) for m in metrics}) for row in rows],
    )


async def _require_account(tx: Tx, workspace_id: str, account_id: str | None) -> None:
    if account_id is None:
        return
    params = {"account_id": account_id, "workspace_id": workspace_id}
    if await tx.fetch_one(QUERIES["account_in_workspace"], params) is None:
        raise NotFoundError("No such Instagram account in this workspace.")


def _post_out(row: Row) -> PostPerformanceOut:
    template = None
    if row["template_id"] is not None:
        template = TemplateRef(
            id=row["template_id"], key=row["template_key"], name=row["template_name"], format=row["format"]
        )
    counts = ("reach", "likes", "comments", "saves", "shares", "views", "interactions")
    return PostPerformanceOut(
        post_id=row["post_id"],
        instagram_account_id=row["instagram_account_id"],
        published_at=row["published_at"],
        permalink=row["permalink"],
        media_type=row["media_type"],
        content_type=row["content_type"],
        template=template,
        engagement_rate=row["engagement_rate"],
        insights_fetched_at=row["insights_fetched_at"],
        **{c: _count(row[c]) for c in counts},
    )


async def post_performance(
    tx: Tx,
    *,
    workspace_id: str,
    account_id: str | None,
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    limit: int,
) -> PostPerformanceList:
    """One page of the workspace's published posts with their figures, newest first.

    `start`/`end` bound `published_at` (inclusive/exclusive); naive ones are local times.

    Raises:
        BadRequestError: a bad cursor.
        NotFoundError: `account_id` is not an account of the workspace.
    """
    after = decode_cursor(cursor) if cursor else (None, None)
    await _require_account(tx, workspace_id, account_id)
    if start is not None or end is not None:
        tz = times.zone(await tx.fetch_val(QUERIES["workspace_timezone"], {"workspace_id": workspace_id}))
        start = times.to_utc(start, tz) if start else None
        end = times.to_utc(end, tz) if end else None
    rows = await tx.fetch_all(
        QUERIES["posts"],
        {
            "workspace_id": workspace_id,
            "account_id": account_id,
            "from": start,
            "to": end,
            "after_created_at": after[0],
            "after_id": after[1],
            "limit": limit + 1,
        },
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor({"created_at": last["created_at"], "id": last["post_id"]})
    return PostPerformanceList(items=[_post_out(r) for r in rows[:limit]], next_cursor=next_cursor)


def _probabilities(group: list[TemplateRecord], believed: dict[uuid.UUID, Belief]) -> dict[uuid.UUID, float]:
    """How often the selector would choose each template of one content type and format: by
    Thompson sampling once any has posts with insights, else always the first in its fallback order."""
    if any(believed[t.id].posts for t in group):
        return dict(zip((t.id for t in group), choice_probabilities([believed[t.id] for t in group]), strict=True))
    first = min(group, key=lambda t: (t.is_builtin, t.key))
    return {t.id: 1.0 if t.id == first.id else 0.0 for t in group}


async def template_performance(tx: Tx, *, workspace_id: str, account_id: str | None) -> TemplatePerformanceList:
    """Every template the workspace may use, with its posts, observed engagement, the selector's
    belief (for the account, or pooled over the workspace's accounts) and its choice probability.

    Raises:
        NotFoundError: `account_id` is not an account of the workspace.
    """
    # Here, not at the top: the template specs' validators load with the first call of this route only.
    from sociallab.content.selector import beliefs
    from sociallab.content.templates import list_templates

    await _require_account(tx, workspace_id, account_id)
    templates = await list_templates(tx, workspace_id)
    believed = await beliefs(
        tx, workspace_id=workspace_id, account_id=account_id, template_ids=[t.id for t in templates]
    )
    posts = {
        (r["template_workspace_id"], r["template_key"], r["format"]): r
        for r in await tx.fetch_all(QUERIES["template_posts"], {"workspace_id": workspace_id, "account_id": account_id})
    }
    groups: dict[tuple[str, str], list[TemplateRecord]] = defaultdict(list)
    for record in templates:
        groups[(record.content_type, record.format)].append(record)
    probability: dict[uuid.UUID, float] = {}
    for group in groups.values():
        probability |= _probabilities(group, believed)
    items = []
    for record in sorted(templates, key=lambda t: (t.content_type, t.format, t.is_builtin, t.key)):
        row = posts.get((record.workspace_id, record.key, record.format))
        belief = believed[record.id]
        low, high = belief.interval
        items.append(
            TemplatePerformanceOut(
                template_id=record.id,
                key=record.key,
                name=record.name,
                content_type=record.content_type,
                format=record.format,
                is_builtin=record.is_builtin,
                posts=int(row["posts"]) if row else 0,
                posts_with_insights=int(row["posts_with_insights"]) if row else 0,
                mean_engagement_rate=row["mean_engagement_rate"] if row else None,
                belief=BeliefOut(mean=belief.mean, low=low, high=high),
                choice_probability=probability[record.id],
            )
        )
    return TemplatePerformanceList(instagram_account_id=uuid.UUID(account_id) if account_id else None, items=items)
