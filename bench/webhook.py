"""`python -m bench webhook [--deliveries N]`: how fast generate-content answers Supabase's database
webhook on `matches` (whose default timeout is 1 s), and how long the work behind each answer takes.

Each delivery is a different match turning `finished`, sent over HTTP (in-process ASGI) to the real
function app with its webhook secret. The answer comes once the delivery is recorded; the draft
(template, composed image, template caption, post) is made after the answer. Prints one JSON line:
{"bench": "generate_content.webhook", "deliveries": N, "answer_p50_ms", "answer_p95_ms", "limit_ms": 1000,
 "work_seconds_total", "work_ms_per_delivery", "drafts"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from bench._db import ROOT, database
from sociallab.config import reset_settings
from sociallab.content.templates import sync_builtin_templates
from sociallab.db import close_db, get_db
from sociallab.dev.loader import load_function

SECRET = "bench-webhook-secret"


def _delivery(match_id: str, workspace_id: str, kickoff: datetime) -> dict[str, object]:
    record = {
        "id": match_id,
        "workspace_id": workspace_id,
        "opponent": "Harbour City",
        "status": "finished",
        "kickoff_at": kickoff.isoformat(),
        "home_score": 2,
        "away_score": 1,
        "is_home": True,
    }
    return {
        "type": "UPDATE",
        "table": "matches",
        "schema": "public",
        "record": record,
        "old_record": {**record, "status": "live"},
    }


async def _run(deliveries: int) -> dict[str, object]:
    db = get_db()
    workspace_id = str(uuid.uuid4())
    kickoff = datetime.now(UTC) - timedelta(hours=3)
    match_ids = [str(uuid.uuid4()) for _ in range(deliveries)]
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
        await tx.execute("INSERT INTO workspaces (id, name) VALUES (%(id)s, 'Bench FC')", {"id": workspace_id})
        for match_id in match_ids:
            await tx.execute(
                """INSERT INTO matches (id, workspace_id, opponent, kickoff_at, status)
                   VALUES (%(id)s, %(w)s, 'Harbour City', %(k)s, 'live')""",
                {"id": match_id, "w": workspace_id, "k": kickoff},
            )
        await tx.execute(
            "UPDATE matches SET status = 'finished', home_score = 2, away_score = 1 WHERE workspace_id = %(w)s",
            {"w": workspace_id},
        )
    function = load_function(ROOT / "functions" / "generate-content" / "main.py")
    module = sys.modules["sociallab_function_generate_content"]
    answers: list[float] = []
    transport = httpx.ASGITransport(app=function.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for match_id in match_ids:
            sent = time.perf_counter()
            response = await client.post(
                "/webhook", json=_delivery(match_id, workspace_id, kickoff), headers={"X-Webhook-Secret": SECRET}
            )
            answers.append((time.perf_counter() - sent) * 1000)
            response.raise_for_status()
        await module.webhooks.drain()
        work = time.perf_counter() - started
    drafts = await db.fetch_val("SELECT count(*) FROM posts WHERE workspace_id = %(w)s", {"w": workspace_id})
    await close_db()
    answers.sort()
    return {
        "bench": "generate_content.webhook",
        "deliveries": deliveries,
        "answer_p50_ms": round(statistics.median(answers), 1),
        "answer_p95_ms": round(answers[max(0, int(len(answers) * 0.95) - 1)], 1),
        "limit_ms": 1000,
        "work_seconds_total": round(work, 2),
        "work_ms_per_delivery": round(work * 1000 / deliveries, 1),
        "drafts": drafts,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhook")
    parser.add_argument("--deliveries", type=int, default=40)
    args = parser.parse_args(argv)
    with database("bench_webhook") as url, tempfile.TemporaryDirectory() as storage_dir:
        os.environ.update(
            DATABASE_URL=url,
            WEBHOOK_SECRET=SECRET,
            URL_SIGNING_KEY="bench-signing-key",
            STORAGE_BACKEND="local",
            STORAGE_LOCAL_DIR=storage_dir,
        )
        reset_settings()
        print(json.dumps(asyncio.run(_run(args.deliveries))), flush=True)
    return 0
