"""Insights for the demo account of `make run`, as if insights-sync had run for two months: when
followers are online, the account's days, and sixteen published match results made with two
templates (the built-in and the workspace's bold variant, which engages about 30 % better; posts at
21:00 engage better than at 18:00), so the preview shows best times and template figures before any
real sync. Idempotent, deterministic.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from sociallab.content.templates import builtin_specs, list_templates, save_workspace_template
from sociallab.db import Database, Tx, load_queries
from sociallab.dev.seed import DEMO_WORKSPACE_ID
from sociallab.scheduling import times

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))
TIMEZONE = "Europe/Amsterdam"
BOLD_KEY = "match_result_bold"
TRUE_RATES = {"match_result": 0.045, BOLD_KEY: 0.06}
HISTORY_POSTS = 16


def online_followers(local_weekday: int, local_hour: int) -> float:
    """Followers online: a lunch bump, an evening peak from 20:00 to 21:00, more at weekends (0 = Sunday)."""
    evening = 520 * max(0.0, 1 - abs(local_hour - 20.5) / 3.5)
    lunch = 240 * max(0.0, 1 - abs(local_hour - 12.5) / 2)
    night = 40 if 1 <= local_hour <= 6 else 110
    weekend = 1.2 if local_weekday in (0, 6) else 1.0
    return round((night + lunch + evening) * weekend)


async def _bold_variant(tx: Tx) -> None:
    if await list_templates(tx, DEMO_WORKSPACE_ID, key=BOLD_KEY):
        return
    spec = builtin_specs()["match_result"].model_dump(mode="json", by_alias=True, exclude_none=True)
    spec |= {"key": BOLD_KEY, "name": "Match result (bold)", "description": "The club's own bolder match result."}
    await save_workspace_template(tx, DEMO_WORKSPACE_ID, spec)


def _audience(now: datetime) -> list[dict[str, Any]]:
    tz = times.zone(TIMEZONE)
    rows = []
    for hours in range(168):  # one week of UTC hours, each named by its UTC weekday and hour
        at = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
        local = at.astimezone(tz)
        rows.append(
            {
                "weekday": at.isoweekday() % 7,
                "hour": at.hour,
                "followers_online": online_followers(local.isoweekday() % 7, local.hour),
            }
        )
    return rows


def _days(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    followers = 1180
    for back in range(27, -1, -1):
        day = (now - timedelta(days=back)).date()
        gained = rng.randint(0, 5)
        followers += gained
        reach = rng.randint(350, 650) * (2 if day.isoweekday() in (6, 7) else 1)
        values = {
            "followers_count": followers,
            "follower_count": gained,
            "reach": reach,
            "views": round(reach * rng.uniform(2.0, 2.6)),
            "accounts_engaged": round(reach * rng.uniform(0.06, 0.1)),
            "total_interactions": round(reach * rng.uniform(0.09, 0.14)),
        }
        rows += [{"metric": m, "day": day.isoformat(), "value": v} for m, v in values.items()]
    return rows


async def seed_demo_insights(db: Database, *, account_id: str, now: datetime) -> bool:
    """Seed the demo account's insights once; returns whether it did (False: seeded before)."""
    rng = random.Random(8)
    params = {"workspace_id": DEMO_WORKSPACE_ID, "account_id": account_id}
    async with db.transaction() as tx:
        if await tx.fetch_val(QUERIES["has_history"], params):
            return False
        await _bold_variant(tx)
        templates = {t.key: t for t in await list_templates(tx, DEMO_WORKSPACE_ID, format="feed_4x5")}
        await tx.execute(QUERIES["audience"], {**params, "rows": Jsonb(_audience(now))})
        await tx.execute(QUERIES["days"], {**params, "rows": Jsonb(_days(now, rng))})
        photo = await tx.fetch_one(QUERIES["photo"], params)
        tz = times.zone(TIMEZONE)
        for index in range(HISTORY_POSTS):
            key = "match_result" if index % 2 else BOLD_KEY
            local_hour = (18, 21)[index % 3 != 1]
            day = (now - timedelta(days=3 * index + 2)).astimezone(tz).date()
            at = times.local_time_on(day, time(local_hour), tz)
            ig_media_id = f"demo-history-{index}"
            post_id = await tx.fetch_val(
                QUERIES["post"],
                {
                    **params,
                    "template_id": templates[key].id,
                    "caption": f"Full time! Match report #{HISTORY_POSTS - index}. #DemoFC",
                    "at": at,
                    "ig_media_id": ig_media_id,
                    "dedupe_key": f"demo:history:{index}",
                },
            )
            if post_id is None:
                continue
            if photo:
                await tx.execute(
                    QUERIES["post_media"],
                    {
                        **params,
                        "post_id": post_id,
                        "asset_id": photo["id"],
                        "path": photo["normalized_path"],
                        "width": photo["width"],
                        "height": photo["height"],
                    },
                )
            reach = rng.randint(900, 2600)
            rate = max(0.005, rng.gauss(TRUE_RATES[key] * (1.35 if local_hour == 21 else 1.0), 0.008))
            total = round(reach * rate)
            likes = round(total * 0.8)
            comments, saved = round(total * 0.08), round(total * 0.07)
            await tx.execute(
                QUERIES["media_insights"],
                {
                    **params,
                    "ig_media_id": ig_media_id,
                    "post_id": post_id,
                    "at": at,
                    "reach": reach,
                    "likes": likes,
                    "comments": comments,
                    "saved": saved,
                    "shares": max(0, total - likes - comments - saved),
                    "total": total,
                    "views": round(reach * 1.9),
                },
            )
    return True
