"""`python -m bench lateness`: how long after its time a post goes out, with publish-due called once a minute.

500 posts at random seconds over 10 minutes, on 100 accounts; a publish-due run starts at every minute
boundary (as Cloud Scheduler calls it; runs overlap freely), against the Instagram sandbox answering every
call after 100 ms. It runs in real time (10 minutes and the last run). Prints one JSON line::

    {"bench": "publish_due.lateness", "p50_s": ..., "p95_s": ..., "max_s": ..., "early": 0, ...}

Lateness is when the sandbox received the post's media_publish minus the post's scheduled time. Target
(issue 10): p95 <= 5 s, and never before its time (`early` counts posts published before it).

Uses DATABASE_URL (a server it may create a database on) or an embedded PostgreSQL, like `bench publish`.
Options: `--posts`, `--accounts`, `--minutes`, `--latency` (s per Graph call), `--ready-after` (s until a
container is FINISHED), `--seed`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bench._db import database
from bench.publish import local_environment, seed, serve
from sociallab.config import get_settings, reset_settings
from sociallab.db import Database
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from sociallab.instagram.client import InstagramClient, new_http_client
from sociallab.publishing import PublishResult, publish_due
from sociallab.storage import close_storage, get_storage

TICK_SECONDS = 60


async def one_run(url: str) -> PublishResult:
    """One publish-due invocation, as a fresh instance would make it: its own pool and HTTP client."""
    settings = get_settings()
    db = Database(url, max_size=10)
    await db.open()
    try:
        async with new_http_client(limits=httpx.Limits(max_connections=100)) as http:
            return await publish_due(db, InstagramClient.from_settings(settings, http), storage=get_storage())
    finally:
        await db.close()


async def scheduler(url: str, start: datetime, minutes: int) -> list[PublishResult]:
    """A run at every minute boundary from `start` until every post's minute has had its run."""
    runs: list[asyncio.Task[PublishResult]] = []
    for tick in range(minutes + 1):
        at = start + timedelta(seconds=tick * TICK_SECONDS)
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))  # the scheduler's own clock
        runs.append(asyncio.create_task(one_run(url)))
    try:
        return list(await asyncio.gather(*runs))
    finally:
        await close_storage()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench lateness")
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--ready-after", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    sandbox = InstagramSandbox(latency=args.latency, container_ready_after=args.ready_after, calls_per_hour=10**6)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    # The first minute boundary: far enough ahead for the seeding to be done by then.
    start = (datetime.now(UTC) + timedelta(seconds=15)).replace(microsecond=0)
    seconds = args.minutes * TICK_SECONDS
    schedule = [
        (rng.randrange(args.accounts), start + timedelta(seconds=rng.randrange(seconds))) for _ in range(args.posts)
    ]
    times = {f"bench post {n}": at for n, (_, at) in enumerate(schedule)}
    with local_environment(), database("bench_lateness") as url, serve(sandbox) as base_url:
        os.environ.update({"DATABASE_URL": url, "INSTAGRAM_GRAPH_URL": base_url, "INSTAGRAM_OAUTH_URL": base_url})
        reset_settings()
        asyncio.run(seed(url, sandbox, accounts=args.accounts, schedule=schedule))
        results = asyncio.run(scheduler(url, start, args.minutes))
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM posts WHERE status = 'published'").fetchone()
            published = row[0] if row else 0
    by_post = {
        media["caption"]: media["published_at"] - times[media["caption"]].timestamp()
        for media in sandbox.published_media()
    }
    late = sorted(by_post.values())
    # The five latest, as [seconds into their minute, seconds late]: where lateness comes from.
    worst = sorted(by_post.items(), key=lambda kv: -kv[1])[:5]
    worst_at = [[int((times[c] - start).total_seconds()) % TICK_SECONDS, round(s, 2)] for c, s in worst]
    twice = sum(1 for count in sandbox.publishes_by_caption().values() if count > 1)
    p95 = late[min(len(late) - 1, round(0.95 * (len(late) - 1)))] if late else None
    print(
        json.dumps(
            {
                "bench": "publish_due.lateness",
                "posts": args.posts,
                "accounts": args.accounts,
                "minutes": args.minutes,
                "latency_ms": round(args.latency * 1000),
                "p50_s": round(statistics.median(late), 2) if late else None,
                "p95_s": round(p95, 2) if p95 is not None else None,
                "max_s": round(late[-1], 2) if late else None,
                "early": sum(1 for s in late if s < 0),
                "worst": worst_at,
                "published": published,
                "published_twice": twice,
                "runs": len(results),
                "errors": sum(r.errors for r in results),
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )
    return 0 if published == args.posts and twice == 0 else 1
