"""instagram-auth: connect an Instagram professional account with Instagram Login (API.md "instagram-auth").

GET /start?workspace_id=&redirect_to=   (owner)  -> {authorize_url}
GET /callback?code=&state=              (public; the signed state authenticates) -> 302 to redirect_to
"""

from __future__ import annotations

from uuid import UUID

import functions_framework.aio
import httpx
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sociallab.db import get_db
from sociallab.http import Call, RequestModel, Router
from sociallab.instagram.client import DEFAULT_TIMEOUT, InstagramClient
from sociallab.instagram.oauth import CallbackParams, begin_login, complete_login

router = Router("instagram-auth", description="Connect Instagram accounts (Instagram Login OAuth).")


class StartQuery(RequestModel):
    workspace_id: UUID
    redirect_to: str | None = Field(default=None, max_length=2000)


class StartOut(BaseModel):
    authorize_url: str


class CallbackQuery(BaseModel):
    """What Instagram sends back; unknown parameters are ignored (Instagram adds its own)."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=4096)
    state: str | None = Field(default=None, max_length=4096)
    error: str | None = Field(default=None, max_length=200)
    error_reason: str | None = Field(default=None, max_length=200)


@router.get("/start", query=StartQuery, response=StartOut, role="owner")
async def start(call: Call) -> StartOut:
    """Begin connecting an Instagram account: the URL of Instagram's consent page."""
    async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT) as http:
        client = InstagramClient.from_settings(call.settings, http)
        async with get_db().transaction() as tx:
            url = await begin_login(
                tx,
                client,
                call.settings,
                workspace_id=str(call.query.workspace_id),
                user_id=call.user_id,
                redirect_to=call.query.redirect_to,
                allowed_origins=call.settings.frontend_origin_list,
            )
    return StartOut(authorize_url=url)


@router.get("/callback", auth="public", query=CallbackQuery, status=302, errors=(400,))
async def callback(call: Call) -> Response:
    """Instagram's redirect after consent: store the account, then send the browser back."""
    params = CallbackParams(call.query.code, call.query.state, call.query.error, call.query.error_reason)
    async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT) as http:
        location = await complete_login(
            get_db(), InstagramClient.from_settings(call.settings, http), call.settings, params
        )
    return RedirectResponse(
        location, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@functions_framework.aio.http
async def instagram_auth(request: Request) -> Response:
    return await router.handle(request)
