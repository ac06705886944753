"""`assets`: upload photos by hand (multipart), list and delete them (API.md "assets")."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import functions_framework.aio
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from sociallab.content import assets as asset_service
from sociallab.content.upload import read_upload
from sociallab.http import Call, RequestModel, Router, json_response

router = Router("assets", description="Photos: upload, list, delete; the same normalisation as Drive imports.")


class ListQuery(RequestModel):
    workspace_id: UUID
    match_id: UUID | None = None
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=100)


@router.post("/", status=201, summary="Upload a photo (multipart: workspace_id, file, tags?, match_id?)")
async def upload(call: Call) -> Response:
    """Upload a photo; 201 with the new asset, 200 with the existing one for the same bytes."""
    form = await read_upload(call.request)
    await call.require_role(form.workspace_id, "editor")
    result = await asset_service.ingest_image(
        workspace_id=form.workspace_id,
        data=form.data,
        source="upload",
        filename=form.filename,
        tags=asset_service.clean_tags(form.tags),
        match_id=form.match_id,
        uploaded_by=call.user_id,
    )
    return json_response(await asset_service.asset_view(result.asset), 201 if result.created else 200)


@router.get("/", query=ListQuery, role="viewer")
async def list_assets(call: Call) -> dict[str, Any]:
    """Ready photos of a workspace, newest first."""
    q = call.query
    rows, next_cursor = await asset_service.list_assets(
        str(q.workspace_id), match_id=str(q.match_id) if q.match_id else None, cursor=q.cursor, limit=q.limit
    )
    return {"items": [await asset_service.asset_view(row) for row in rows], "next_cursor": next_cursor}


@router.delete("/{asset_id:uuid}")
async def delete(call: Call) -> None:
    """Delete a photo (editor); 409 while a scheduled or publishing post uses it."""
    await asset_service.delete_asset(call.params["asset_id"], user_id=call.user_id)


@functions_framework.aio.http
async def assets(request: Request) -> Response:
    return await router.handle(request)
