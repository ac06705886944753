"""The Instagram sandbox as an HTTP server: `InstagramSandbox(...).app` is a Starlette app that answers like
graph.instagram.com and api.instagram.com (serve it under any base URL or mount prefix).

Graph routes (the version prefix, e.g. ``/v25.0``, is optional): ``POST /oauth/access_token``,
``GET /access_token``, ``GET /refresh_access_token``, ``GET /me``, ``POST /{ig_user_id}/media``,
``POST /{ig_user_id}/media_publish``, ``GET /{ig_user_id}/media`` (the feed, newest first, paginated),
``GET /{ig_user_id}/content_publishing_limit``, ``GET /{id}`` (container
status or media fields), ``POST /{media_id}/comments``, ``GET /{ig_user_id}/insights`` and
``GET /{media_id}/insights`` (see `insights`). ``GET /oauth/authorize`` stands in for the consent page
(redirects back with a code). Every answer carries ``X-App-Usage`` and, for an account,
``X-Business-Use-Case-Usage``.

Control routes for the dev server and e2e tests: ``GET /_sandbox/state``, ``POST /_sandbox/faults`` (a `Fault`
as JSON), ``DELETE /_sandbox/faults``, ``POST /_sandbox/accounts``, ``POST /_sandbox/codes``,
``POST /_sandbox/throttle``, ``POST /_sandbox/revoke``, ``POST /_sandbox/media`` (earlier media of an
account: ``{"ig_user_id", "count", "every_seconds"}``), ``POST /_sandbox/images`` (raw bytes; served back at
``GET /_sandbox/images/{id}`` for `fetch_images=True`).

Latency and hangs are `asyncio.sleep` inside the handler (that is the behaviour being faked); a hang ends
early when the client disconnects, so the server can shut down promptly.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sociallab.dev.sandboxes.instagram import content, insights
from sociallab.dev.sandboxes.instagram.faults import Fault, FaultPlan
from sociallab.dev.sandboxes.instagram.state import Account, MetaError, SandboxState, bad_param

_VERSION = re.compile(r"^v\d+(\.\d+)?$")
MAX_IMAGE_BYTES = 8 * 1024 * 1024


class _DroppedResponse(Response):
    """Starts a response and closes the connection before its body is complete (a lost answer)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
        raise ConnectionAbortedError("sandbox fault: connection dropped")


class InstagramSandbox(SandboxState):
    """A local Instagram Graph API; see the module docstring. `faults` switches failures on."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        container_ready_after: float = 2.0,
        container_ttl: float = 86400,
        latency: float = 0.0,
        publish_limit: int = 100,
        fetch_images: bool = False,
        calls_per_hour: int = 4800,
        app_id: str | None = None,
        app_secret: str | None = None,
        oauth_reply: str = "data",
        seed: int | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            container_ready_after=container_ready_after,
            container_ttl=container_ttl,
            publish_limit=publish_limit,
            calls_per_hour=calls_per_hour,
            app_id=app_id,
            app_secret=app_secret,
        )
        self.latency = latency
        self.fetch_images = fetch_images
        self.oauth_reply = oauth_reply
        self.faults = FaultPlan(seed)
        self.images: dict[str, tuple[bytes, str]] = {}
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "DELETE"])])

    # --- dispatch ---------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        parts = [p for p in request.path_params["path"].split("/") if p]
        params = dict(request.query_params)
        if request.method == "POST" and "form" in request.headers.get("content-type", ""):
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        if parts[:1] == ["_sandbox"]:
            return await self._control(request, parts[1:])
        if parts == ["oauth", "authorize"]:
            return self._authorize(params)
        if parts and _VERSION.match(parts[0]):
            parts = parts[1:]
        route = self._route(request.method, parts, params)
        if route is None:
            return self._error(bad_param(f"Unsupported {request.method.lower()} request."), None)
        kind, operation, hint = route
        account_hint = self._account_hint(params.get("access_token"), hint)
        with self.lock:
            self.calls[kind] += 1
            self.calls["total"] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        image_error: str | None = None
        fault = self.faults.pick(kind, account_hint, after=False)
        if fault is not None:
            early = await self._apply(fault, request, None)
            if early is not None:
                return early
        if kind == "create" and self.fetch_images and params.get("image_url"):
            try:
                image_error = await _judge_image(params["image_url"])
            except MetaError as exc:
                return self._error(exc, self._account_for_headers(account_hint))
        account: Account | None = None
        try:
            with self.lock:
                if kind == "token" and parts == ["oauth", "access_token"]:
                    body = operation(None, image_error)
                else:
                    account = self.account_for(params.get("access_token"))
                    self.charge(account)
                    body = operation(account, image_error)
        except MetaError as exc:
            return self._error(exc, account or self._account_for_headers(account_hint))
        response = self._json(body, 200, account)
        fault = self.faults.pick(kind, account_hint, after=True)
        if fault is not None:
            late = await self._apply(fault, request, response)
            if late is not None:
                return late
        return response

    def _route(
        self, method: str, parts: list[str], params: dict[str, str]
    ) -> tuple[str, Callable[[Any, str | None], dict[str, Any]], str | None] | None:
        """(endpoint kind, the operation to run under the lock, an id that hints at the account) or None."""
        if method == "POST" and parts == ["oauth", "access_token"]:
            return "token", lambda _a, _i: self._code_reply(params), None
        if method == "GET" and parts == ["access_token"]:
            return "token", lambda _a, _i: self.exchange_long_lived(params), None
        if method == "GET" and parts == ["refresh_access_token"]:
            return "token", lambda _a, _i: self.refresh(params), None
        if method == "GET" and parts == ["me"]:
            return "me", lambda a, _i: self.profile(a, params.get("fields", "")), None
        if len(parts) == 2 and method == "POST" and parts[1] == "media":

            def create(a: Account, image_error: str | None) -> dict[str, Any]:
                self.owner(a, parts[0])
                return {"id": content.create_container(self, a, params, image_error).id}

            return "create", create, parts[0]
        if len(parts) == 2 and method == "GET" and parts[1] == "media":

            def media_list(a: Account, _i: str | None) -> dict[str, Any]:
                self.owner(a, parts[0])
                return content.media_list(self, a, params)

            return "media_list", media_list, parts[0]
        if len(parts) == 2 and method == "POST" and parts[1] == "media_publish":

            def publish(a: Account, _i: str | None) -> dict[str, Any]:
                self.owner(a, parts[0])
                return {"id": content.publish(self, a, params.get("creation_id")).id}

            return "publish", publish, parts[0]
        if len(parts) == 2 and method == "GET" and parts[1] == "content_publishing_limit":

            def limit(a: Account, _i: str | None) -> dict[str, Any]:
                self.owner(a, parts[0])
                return content.publishing_limit(self, a)

            return "limit", limit, parts[0]
        if len(parts) == 2 and method == "GET" and parts[1] == "insights":
            object_id = parts[0]
            if object_id in self.media:
                kind = "media_insights"
            elif params.get("metric") == "online_followers":
                kind = "audience"
            else:
                kind = "account_insights"
            return kind, lambda a, _i: insights.insights_route(self, a, object_id, params), None
        if len(parts) == 2 and method == "POST" and parts[1] == "comments":
            return "comment", lambda a, _i: {"id": content.comment(self, a, parts[0], params.get("message"))}, None
        if len(parts) == 1 and method == "GET":
            object_id, fields = parts[0], params.get("fields", "")
            if object_id in self.media:
                return (
                    "permalink",
                    lambda a, _i: content.media_fields(content.media_of(self, object_id, a), fields),
                    None,
                )
            return "status", lambda a, _i: content.container_fields(self, self.container(object_id, a), fields), None
        return None

    def _code_reply(self, params: dict[str, str]) -> dict[str, Any]:
        grant = self.exchange_code(params)
        return {"data": [grant]} if self.oauth_reply == "data" else grant

    def _account_hint(self, token: str | None, object_id: str | None) -> str | None:
        with self.lock:
            record = self.tokens.get(token or "")
            if record is not None:
                return record.ig_user_id
            return object_id

    def _account_for_headers(self, ig_user_id: str | None) -> Account | None:
        return self.accounts.get(ig_user_id or "")

    # --- faults -----------------------------------------------------------------------------------------

    async def _apply(self, fault: Fault, request: Request, response: Response | None) -> Response | None:
        """The response a fault replaces the normal one with, or None to carry on (slow)."""
        if fault.action == "slow":
            await asyncio.sleep(fault.delay)
            return None
        if fault.action == "timeout":
            await _hold(request, fault.hang)
            return response or self._fault_error(fault)
        if fault.action == "drop":
            return _DroppedResponse()
        return self._fault_error(fault)

    def _fault_error(self, fault: Fault) -> Response:
        if fault.code is None:
            return Response(b"", status_code=fault.http_status)
        transient = fault.is_transient if fault.is_transient is not None else fault.http_status >= 500
        error = MetaError(
            fault.http_status,
            fault.code,
            fault.message or "An unexpected error has occurred. Please retry your request later.",
            subcode=fault.subcode,
            is_transient=transient,
        )
        return self._error(error, self._account_for_headers(fault.ig_user_id))

    # --- responses --------------------------------------------------------------------------------------

    def _headers(self, account: Account | None, regain_minutes: int = 0) -> dict[str, str]:
        with self.lock:
            headers = {"X-App-Usage": json.dumps(self.app_usage())}
            if account is not None:
                usage = self.usage(account)
                if regain_minutes:
                    usage["estimated_time_to_regain_access"] = regain_minutes
                headers["X-Business-Use-Case-Usage"] = json.dumps({account.ig_user_id: [usage]})
        return headers

    def _json(self, body: dict[str, Any], status: int, account: Account | None) -> Response:
        return JSONResponse(body, status_code=status, headers=self._headers(account))

    def _error(self, error: MetaError, account: Account | None) -> Response:
        payload = error.payload()
        headers = self._headers(account, error.regain_minutes)
        if payload is None:
            return Response(b"", status_code=error.http_status, headers=headers)
        return JSONResponse(payload, status_code=error.http_status, headers=headers)

    # --- consent page and control endpoints -------------------------------------------------------------

    def _authorize(self, params: dict[str, str]) -> Response:
        redirect_uri = params.get("redirect_uri")
        with self.lock:
            ig_user_id = params.get("ig_user_id") or next(iter(self.accounts), None)
        if not redirect_uri or ig_user_id is None or ig_user_id not in self.accounts:
            return JSONResponse(
                {
                    "error_type": "OAuthException",
                    "code": 400,
                    "error_message": "Invalid redirect_uri or no sandbox account",
                },
                status_code=400,
            )
        query = urlencode({"code": self.issue_code(ig_user_id), "state": params.get("state", "")})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    def seed_media(self, ig_user_id: str, count: int, every_seconds: float, media_type: str = "IMAGE") -> list[str]:
        """Give the account `count` earlier media, the newest `every_seconds` ago (history for insights).

        Raises:
            KeyError: no such account.
        """
        with self.lock:
            account = self.accounts[ig_user_id]
            return insights.seed_media(self, account, count=count, every_seconds=every_seconds, media_type=media_type)

    def add_image(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """Host `data` at ``{base_url}/_sandbox/images/{id}`` (an image URL Meta could fetch); returns the id."""
        with self.lock:
            image_id = self._next_id()
            self.images[image_id] = (data, content_type)
            return image_id

    async def _control(self, request: Request, parts: list[str]) -> Response:
        if len(parts) == 2 and parts[0] == "images" and request.method == "GET":
            with self.lock:
                found = self.images.get(parts[1])
            if found is None:
                return Response(b"not found", status_code=404)
            return Response(found[0], media_type=found[1])
        if parts == ["images"] and request.method == "POST":
            image_id = self.add_image(await request.body(), request.headers.get("content-type", "image/jpeg"))
            return JSONResponse({"id": image_id, "url": f"{str(request.url).rstrip('/')}/{image_id}"}, status_code=201)
        spec: dict[str, Any] = {}
        if request.method == "POST":
            try:
                loaded = json.loads(await request.body() or b"{}")
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            spec = loaded if isinstance(loaded, dict) else {}
        try:
            return self._control_action(request.method, parts, spec)
        except (TypeError, ValueError, KeyError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)

    def _control_action(self, method: str, parts: list[str], spec: dict[str, Any]) -> Response:
        if method == "GET" and parts == ["state"]:
            return JSONResponse(self.snapshot())
        if parts == ["faults"] and method == "POST":
            return JSONResponse(self.faults.add(**spec).to_dict(), status_code=201)
        if parts == ["faults"] and method == "DELETE":
            self.faults.clear()
            return Response(status_code=204)
        if parts == ["accounts"] and method == "POST":
            self.add_account(**spec)
            return JSONResponse({"ig_user_id": spec["ig_user_id"]}, status_code=201)
        if parts == ["codes"] and method == "POST":
            return JSONResponse({"code": self.issue_code(str(spec["ig_user_id"]))}, status_code=201)
        if parts == ["throttle"] and method == "POST":
            self.throttle(str(spec["ig_user_id"]), float(spec.get("seconds", 3600)))
            return Response(status_code=204)
        if parts == ["media"] and method == "POST":
            ids = self.seed_media(str(spec["ig_user_id"]), int(spec["count"]), float(spec["every_seconds"]))
            return JSONResponse({"ids": ids}, status_code=201)
        if parts == ["revoke"] and method == "POST":
            self.revoke_tokens(str(spec["ig_user_id"]))
            return Response(status_code=204)
        return JSONResponse({"error": "unknown sandbox control route"}, status_code=404)

    def snapshot(self) -> dict[str, Any]:
        """Counters and contents as JSON (no tokens): what the dev server's preview and e2e tests read."""
        with self.lock:
            statuses: dict[str, int] = {}
            for container in self.containers.values():
                status = self.status_of(container)
                statuses[status] = statuses.get(status, 0) + 1
            accounts = [
                {
                    "ig_user_id": a.ig_user_id,
                    "username": a.username,
                    "throttled_until": a.throttled_until or None,
                    "publishes_24h": len(a.publishes),
                    "usage": self.usage(a),
                }
                for a in self.accounts.values()
            ]
            return {
                "accounts": accounts,
                "containers": statuses,
                "published": self.published_media(),
                "publish_counts": dict(self._publish_counts),
                "publishes_by_caption": dict(self._by_caption),
                "calls": dict(self.calls),
                "faults": self.faults.to_list(),
            }


async def _hold(request: Request, seconds: float) -> None:
    """Wait `seconds`, or until the client hangs up."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    waiter = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait([waiter], timeout=seconds)
    finally:
        waiter.cancel()


async def _judge_image(url: str) -> str | None:
    """Fetch the image like Meta does: None if it is an acceptable JPEG, else why the container will fail.

    Raises:
        MetaError: 9004/2207052 when the URL cannot be downloaded at all.
    """
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=True) as http:
            response = await http.get(url)
    except httpx.HTTPError:
        response = None
    if response is None or response.status_code != 200:
        raise MetaError(
            400, 9004, "Media download has failed. The media URI doesn't meet our requirements.", subcode=2207052
        )
    if len(response.content) > MAX_IMAGE_BYTES:
        return "The image is larger than 8 MB (2207004)."
    if not response.content.startswith(b"\xff\xd8\xff"):
        return "The image format is not supported; only JPEG is (2207005)."
    return None
