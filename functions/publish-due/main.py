"""publish-due: Cloud Scheduler calls it every minute; it publishes every due post exactly once.

POST / (scheduler auth) -> 200 {claimed, published, retried, failed, ...}. Per-post failures are
recorded on the posts, never returned as a 500 (API.md). Imports neither Pillow nor google-genai.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.publishing import PublishResult, run_publish_due
from sociallab.storage import get_storage

router = Router("publish-due", schedule_seconds=60, description="Publishes due posts to Instagram, exactly once.")


@router.post("/", auth="scheduler", response=PublishResult)
async def publish(call: Call) -> PublishResult:
    """Claim the due posts and publish them."""
    return await run_publish_due(get_db(), get_storage(), settings=call.settings)


@functions_framework.aio.http
async def publish_due(request: Request) -> Response:
    return await router.handle(request)
