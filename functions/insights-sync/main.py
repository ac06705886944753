"""insights-sync: Cloud Scheduler calls it hourly; it reads every connected account's Instagram insights.

POST / (scheduler auth) -> 200 {accounts, synced, partial, failed, throttled, ...}. Per-account failures are
counted and recorded on the accounts, never returned as a 500. Imports neither Pillow nor google-genai.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.insights_sync import InsightsSyncResult, run_insights_sync

router = Router(
    "insights-sync",
    schedule_seconds=3600,
    description="Reads account, audience and media insights from Instagram into the insights tables.",
)


@router.post("/", auth="scheduler", response=InsightsSyncResult)
async def sync(call: Call) -> InsightsSyncResult:
    """Claim the accounts due for a sync and read their insights."""
    return await run_insights_sync(get_db(), settings=call.settings)


@functions_framework.aio.http
async def insights_sync(request: Request) -> Response:
    return await router.handle(request)
