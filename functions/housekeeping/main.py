"""housekeeping: the daily job that keeps short-lived rows from piling up (Cloud Scheduler).

POST /   (scheduler) -> {usage_counters, webhook_receipts, oauth_states}: rows deleted
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.housekeeping import PruneResult, prune
from sociallab.http import Call, Router

router = Router("housekeeping", schedule_seconds=24 * 3600, description="Delete expired counters and receipts.")


@router.post("/", auth="scheduler", response=PruneResult)
async def run(call: Call) -> PruneResult:
    """Delete expired rate-limit and budget counters, old webhook receipts and expired OAuth states."""
    return await prune(get_db())


@functions_framework.aio.http
async def housekeeping(request: Request) -> Response:
    return await router.handle(request)
