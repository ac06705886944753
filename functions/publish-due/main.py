"""publish-due: Cloud Scheduler calls it every minute; it publishes every due post exactly once.

POST / (scheduler auth) -> 200 {claimed, published, retried, failed, ...}. Per-post failures are
recorded on the posts, never returned as a 500 (API.md). Imports neither Pillow nor google-genai.
"""

from __future__ import annotations

import functions_framework.aio
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from sociallab.http import Call, Router
from sociallab.publishing import run_publish_due

router = Router("publish-due", schedule_seconds=60, description="Publishes due posts to Instagram, exactly once.")


class PublishDueOut(BaseModel):
    run_id: str
    enabled: bool
    claimed: int
    published: int
    retried: int
    failed: int
    rescheduled: int
    rate_limited: int
    parked: int
    lost_lease: int
    media_recovered: int
    media_backfilled: int
    errors: int
    accounts: int
    paused_accounts: list[str]
    reauth_accounts: list[str]


@router.post("/", auth="scheduler", response=PublishDueOut)
async def publish(call: Call) -> PublishDueOut:
    """Claim the due posts and publish them."""
    result = await run_publish_due(call.settings)
    return PublishDueOut(**result.as_dict())


@functions_framework.aio.http
async def publish_due(request: Request) -> Response:
    return await router.handle(request)
