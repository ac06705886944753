"""`make run`'s stand-in for the frontend's "Connect Instagram" pages, signed in as the demo user.

    GET /dev/instagram/connect   -> GET /instagram-auth/start (demo user's token) -> 302 to the consent page
    GET /dev/instagram/return    <- Instagram (via /instagram-auth/callback) with code and state, or an error
                                 -> POST /instagram-auth/complete (demo user's token) -> a page saying what happened

Both talk to instagram-auth only through its HTTP contract, in-process, exactly as a frontend would
over the network. Dev only: a real frontend signs its user in with Supabase Auth instead.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

RETURN_PATH = "/dev/instagram/return"


def routes(app: Callable[[], Any], *, workspace_id: str, token: Callable[[], str]) -> list[Route]:
    """The two pages; `app()` is the dev server's whole ASGI app, `token()` the demo user's bearer token."""

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token()}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://dev") as client:
            return await client.request(method, path, headers=headers, **kwargs)

    async def connect(request: Request) -> Response:
        started = await call(
            "GET", "/instagram-auth/start", params={"workspace_id": workspace_id, "redirect_to": RETURN_PATH}
        )
        if started.status_code != 200:
            return _page("Could not start", _error_text(started), status=started.status_code)
        return RedirectResponse(started.json()["authorize_url"], status_code=302)

    async def finish(request: Request) -> Response:
        query = request.query_params
        if query.get("error"):
            reason = query.get("error_reason") or query["error"]
            return _page("Not connected", f"Instagram said: {reason}. Nothing was stored.", status=400)
        done = await call(
            "POST", "/instagram-auth/complete", json={"code": query.get("code", ""), "state": query.get("state", "")}
        )
        if done.status_code != 201:
            return _page("Not connected", _error_text(done), status=done.status_code)
        account = done.json()
        return _page(
            "Connected", f"@{account['username'] or account['ig_user_id']} is connected ({account['status']})."
        )

    return [Route("/dev/instagram/connect", connect), Route(RETURN_PATH, finish)]


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _page(title: str, text: str, *, status: int = 200) -> HTMLResponse:
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p><p><a href='/'>Back to the preview</a></p>"
    )
    return HTMLResponse(body, status_code=status)
