"""instagram-auth: connect an Instagram professional account with Instagram Login (API.md "instagram-auth").

GET  /start?workspace_id=&redirect_to=   (owner)  -> {authorize_url}
POST /complete {code, state}             (the user who started, still owner) -> 201 the connected account
GET  /callback?code=&state=              (public) -> 302: forwards code and state to redirect_to; stores nothing
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import functions_framework.aio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sociallab.db import get_db
from sociallab.http import Call, Router
from sociallab.http.parsing import RequestModel
from sociallab.instagram.client import InstagramClient, new_http_client
from sociallab.instagram.oauth import begin_login, complete_login, forward_callback

router = Router("instagram-auth", description="Connect Instagram accounts (Instagram Login OAuth).")


class StartQuery(RequestModel):
    workspace_id: UUID
    redirect_to: str | None = Field(default=None, max_length=2000)


class StartOut(BaseModel):
    authorize_url: str


class CompleteBody(RequestModel):
    code: str = Field(min_length=1, max_length=4096)
    state: str = Field(min_length=1, max_length=4096)


class AccountOut(BaseModel):
    id: str
    workspace_id: str
    ig_user_id: str
    username: str | None
    status: str
    token_expires_at: datetime | None
    redirect_to: str  # where the frontend goes next: the redirect_to given at /start


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
    async with new_http_client() as http:
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


@router.post("/complete", body=CompleteBody, response=AccountOut, status=201, errors=(502,))
async def complete(call: Call) -> AccountOut:
    """Finish connecting: the page Instagram sent the browser to hands over `code` and `state`."""
    async with new_http_client() as http:
        connected = await complete_login(
            get_db(),
            InstagramClient.from_settings(call.settings, http),
            call.settings,
            code=call.body.code,
            state=call.body.state,
            user_id=call.user_id,
        )
    account = connected.account
    return AccountOut(
        id=account.id,
        workspace_id=account.workspace_id,
        ig_user_id=account.ig_user_id,
        username=account.username,
        status=account.status,
        token_expires_at=account.token_expires_at,
        redirect_to=connected.redirect_to,
    )


@router.get("/callback", auth="public", query=CallbackQuery, status=302, errors=(400,))
async def callback(call: Call) -> Response:
    """Instagram's redirect, where it is registered to come here: forwarded to the frontend page."""
    q: CallbackQuery = call.query
    forwarded = {"code": q.code, "state": q.state, "error": q.error, "error_reason": q.error_reason}
    location = forward_callback(call.settings, state=q.state, params={k: v for k, v in forwarded.items() if v})
    return RedirectResponse(
        location, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@functions_framework.aio.http
async def instagram_auth(request: Request) -> Response:
    return await router.handle(request)
