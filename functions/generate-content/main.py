"""generate-content: a branded image + caption -> a draft post (API.md "generate-content").

`POST /` (editor) composes from the request; `POST /webhook` (Supabase database webhook on
`matches`, X-Webhook-Secret) records the delivery with its work, answers at once and starts the work;
`POST /webhook/pickup` (Cloud Scheduler, every 5 minutes) finishes the deliveries whose work did not
finish within its lease, e.g. because the platform throttled the instance after the answer (see
`sociallab.content.webhook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from sociallab.config import get_settings
from sociallab.content.api_models import GenerateBody, GenerateOut
from sociallab.content.webhook import MatchWebhook, MatchWebhookHandler, PickupResult, WebhookAck
from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.storage import get_storage

if TYPE_CHECKING:
    from sociallab.content.generate import Generator

router = Router(
    "generate-content",
    schedule_seconds=5 * 60,
    schedule_path="/webhook/pickup",
    description="Templates, composition and captions into draft posts.",
)


def generator() -> Generator:
    # Here, not at the top: templates, captions and the composer load when a post is first generated.
    from sociallab.content.captions import CaptionWriter
    from sociallab.content.generate import Generator

    return Generator(db=get_db(), storage=get_storage(), captions=CaptionWriter(get_settings()))


# One per process, so the webhook's background tasks stay referenced until they finish.
webhooks = MatchWebhookHandler(generator=generator, database=get_db)


@router.post("/", body=GenerateBody, response=GenerateOut, status=201, role="editor", errors=(404, 409))
async def generate(call: Call) -> GenerateOut:
    """Compose a branded image, write its caption and create the draft (optionally scheduled)."""
    return await generator().generate(call.body, actor_user_id=call.user_id)


@router.post("/webhook", auth="webhook", body=MatchWebhook, response=WebhookAck)
async def match_webhook(call: Call) -> WebhookAck:
    """Supabase webhook on `matches`: finished -> match_result draft; new match -> matchday post."""
    return await webhooks.accept(call.body)


@router.post("/webhook/pickup", auth="scheduler", response=PickupResult)
async def pickup_deliveries(call: Call) -> PickupResult:
    """Finish the webhook deliveries whose work did not finish within its lease (Cloud Scheduler)."""
    return await webhooks.pickup()


@functions_framework.aio.http
async def generate_content(request: Request) -> Response:
    return await router.handle(request)
