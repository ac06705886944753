"""`assets`: upload photos by hand (multipart), list and delete them (API.md "assets")."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import functions_framework.aio
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from starlette.requests import Request
from starlette.responses import Response

from sociallab.content import assets as asset_service
from sociallab.content.upload import read_upload
from sociallab.db import get_db
from sociallab.http import Call, Router, json_response
from sociallab.http.parsing import RequestModel
from sociallab.storage import get_storage

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
router = Router("assets", description="Photos: upload, list, delete; the same normalisation as Drive imports.")


class ListQuery(RequestModel):
    workspace_id: UUID
    match_id: UUID | None = None
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=100)


class UploadForm(RequestModel):
    """The multipart fields of an upload (read by `read_upload`; this model documents them)."""

    workspace_id: UUID
    file: bytes = Field(description="at most 40 MB", json_schema_extra={"x-content-types": list(PHOTO_TYPES)})
    tags: list[str] = Field(default_factory=list, description="repeatable; each may be a comma-separated list")
    match_id: UUID | SkipJsonSchema[None] = None


@router.post("/", form=UploadForm, status=201, also=(200,), errors=(404,), summary="Upload a photo")
async def upload(call: Call) -> Response:
    """Upload a photo; 201 with the new asset, 200 with the existing one for the same bytes."""
    form = await read_upload(call.request)
    await call.require_role(form.workspace_id, "editor")
    storage = get_storage()
    result = await asset_service.ingest_image(
        get_db(),
        storage=storage,
        workspace_id=form.workspace_id,
        data=form.data,
        source="upload",
        filename=form.filename,
        tags=asset_service.clean_tags(form.tags),
        match_id=form.match_id,
        uploaded_by=call.user_id,
    )
    return json_response(await asset_service.asset_view(result.asset, storage), 201 if result.created else 200)


@router.get("/", query=ListQuery, role="viewer", errors=(400,))
async def list_assets(call: Call) -> dict[str, Any]:
    """Ready photos of a workspace, newest first."""
    q = call.query
    rows, next_cursor = await asset_service.list_assets(
        get_db(), str(q.workspace_id), match_id=str(q.match_id) if q.match_id else None, cursor=q.cursor, limit=q.limit
    )
    storage = get_storage()
    return {"items": [await asset_service.asset_view(row, storage) for row in rows], "next_cursor": next_cursor}


@router.delete("/{asset_id:uuid}", status=204, errors=(409,))
async def delete(call: Call) -> None:
    """Delete a photo (editor); 409 while a scheduled or publishing post uses it."""
    await asset_service.delete_asset(get_db(), call.params["asset_id"], user_id=call.user_id, storage=get_storage())


@functions_framework.aio.http
async def assets(request: Request) -> Response:
    return await router.handle(request)
