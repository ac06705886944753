"""`drive-sync`: connect Drive folders and import their photos (API.md "drive-sync").

Connecting takes two calls (see `sociallab.drive.sources`): `POST /sources` answers a pending
source naming the verification file to create in the folder; `POST /sources/{id}/verify` finds it
and activates the source. Pending sources never import.

`POST /` takes either caller on one route, as API.md lists it: Cloud Scheduler (`{}` syncs every
active source; `{source_id}` one) or a signed-in editor (`{source_id}` required, "sync now").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import functions_framework.aio
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from sociallab.config import Settings
from sociallab.db import get_db
from sociallab.drive import sources, sync
from sociallab.drive.client import DriveClient
from sociallab.errors import RequestValidationError
from sociallab.http import Call, Router, json_response
from sociallab.http.parsing import RequestModel
from sociallab.storage import get_storage

if TYPE_CHECKING:
    import httpx

router = Router("drive-sync", schedule_seconds=15 * 60, description="Import photos from connected Drive folders.")

_http: httpx.AsyncClient | None = None  # one per instance, made on first use


def drive_client(settings: Settings, **options: Any) -> DriveClient:
    """The Drive client, created on first use (lazy: nothing heavy at import time)."""
    global _http
    if _http is None:
        import httpx

        _http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    return DriveClient.from_settings(settings, _http, **options)


class SourceBody(RequestModel):
    workspace_id: UUID
    folder_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")


class SyncBody(RequestModel):
    source_id: UUID | None = None


@router.post("/sources", body=SourceBody, role="editor", status=201, also=(200,), errors=(409,))
async def add_source(call: Call) -> Response:
    """Connect a Drive folder: 201 a pending source naming its verification file (200: the one already pending)."""
    source, created = await sources.add_source(
        get_db(),
        drive_client(call.settings, max_attempts=2),  # someone is waiting: one quick retry at most
        workspace_id=str(call.body.workspace_id),
        folder_id=call.body.folder_id,
        user_id=call.user_id,
    )
    return json_response(sources.source_view(source), 201 if created else 200)


@router.post("/sources/{source_id:uuid}/verify", errors=(404, 409))
async def verify_source(call: Call) -> dict[str, Any]:
    """Activate a pending source once its verification file is in the folder (409 until then)."""
    db = get_db()
    source = await sources.source_for_user(db, call.params["source_id"], call.user_id)
    verified = await sources.verify_source(db, drive_client(call.settings, max_attempts=2), source)
    return sources.source_view(verified)


@router.post("/", auth=("scheduler", "user"), body=SyncBody, response=sync.SyncResult, errors=(404,))
async def run_sync(call: Call) -> sync.SyncResult:
    """Sync every active source (scheduler) or one source (scheduler or its editor)."""
    source_id = str(call.body.source_id) if call.body.source_id else None
    db = get_db()
    if call.user is not None:
        if source_id is None:
            raise RequestValidationError(
                "source_id is required.", details=[{"field": "source_id", "message": "Field required"}]
            )
        sources.require_verified(await sources.source_for_user(db, source_id, call.user.id))
    drive, storage = drive_client(call.settings), get_storage()
    if source_id:
        return await sync.sync_source(db, drive, source_id, storage=storage)
    return await sync.sync_all(db, drive, storage=storage)


class ChannelHeaders(RequestModel):
    """What Drive sends with every push notification; a missing or wrong channel is a 401."""

    channel_id: str | None = Field(default=None, alias="X-Goog-Channel-Id", max_length=200)
    channel_token: str | None = Field(default=None, alias="X-Goog-Channel-Token", max_length=500)
    resource_state: str | None = Field(default=None, alias="X-Goog-Resource-State", max_length=50)


@router.post("/notifications", auth="public", headers=ChannelHeaders, errors=(401,))
async def notification(call: Call) -> dict[str, Any]:
    """A Drive push notification (X-Goog-Channel-Token checked); 'sync' messages are acknowledged."""
    headers = call.request.headers
    db = get_db()
    source_id = await sources.source_for_notification(
        db, headers.get("x-goog-channel-id"), headers.get("x-goog-channel-token")
    )
    if headers.get("x-goog-resource-state") == "sync":
        return {"acknowledged": True}
    result = await sync.sync_source(db, drive_client(call.settings), source_id, storage=get_storage())
    return {"acknowledged": True, **result.model_dump()}


@functions_framework.aio.http
async def drive_sync(request: Request) -> Response:
    return await router.handle(request)
