"""refresh-tokens: the daily job that keeps long-lived Instagram tokens alive (Cloud Scheduler).

POST /   (scheduler) -> {day, already_ran, considered, refreshed, reencrypted, reauth_required, failed}
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.instagram import tokens
from sociallab.instagram.client import InstagramClient, new_http_client

router = Router("refresh-tokens", schedule_seconds=24 * 3600, description="Refresh long-lived Instagram tokens.")


@router.post("/", auth="scheduler", response=tokens.RefreshResult)
async def run(call: Call) -> tokens.RefreshResult:
    """Refresh tokens >= 24 h old that expire within 15 days; once per day."""
    async with new_http_client() as http:
        return await tokens.refresh_tokens(get_db(), InstagramClient.from_settings(call.settings, http))


@functions_framework.aio.http
async def refresh_tokens(request: Request) -> Response:
    return await router.handle(request)
