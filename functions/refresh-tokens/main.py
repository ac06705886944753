"""refresh-tokens: the daily job that keeps long-lived Instagram tokens alive (Cloud Scheduler).

POST /   (scheduler) -> {day, already_ran, considered, refreshed, reencrypted, reauth_required, failed}
"""

from __future__ import annotations

import functions_framework.aio
import httpx
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.instagram import tokens
from sociallab.instagram.client import DEFAULT_TIMEOUT, InstagramClient

router = Router("refresh-tokens", schedule_seconds=24 * 3600, description="Refresh long-lived Instagram tokens.")


class RefreshOut(BaseModel):
    day: str
    already_ran: bool
    considered: int
    refreshed: int
    reencrypted: int
    reauth_required: int
    failed: int


@router.post("/", auth="scheduler", response=RefreshOut)
async def run(call: Call) -> RefreshOut:
    """Refresh tokens >= 24 h old that expire within 15 days; once per day."""
    async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT) as http:
        result = await tokens.refresh_tokens(get_db(), InstagramClient.from_settings(call.settings, http))
    return RefreshOut(**result.counts())


@functions_framework.aio.http
async def refresh_tokens(request: Request) -> Response:
    return await router.handle(request)
