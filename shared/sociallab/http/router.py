"""A small router for one function: routes declare their auth, body/query models and minimum role.

    router = Router("posts")

    @router.post("/", body=CreatePost, response=PostOut, status=201, role="editor")
    async def create_post(call: Call) -> PostOut: ...

    @functions_framework.aio.http
    async def posts(request):  # the deployed entry point
        return await router.handle(request)

`handle` turns every failure into the error envelope: AppErrors with their status, anything
else as a 500 that names no internals; a path asked with a method it has no route for is a 405
with `Allow`. Routes users call answer CORS preflights before authentication (`sociallab.http.cors`).
A route with `role` and a `workspace_id` in its body or query gets the membership
check before the handler runs. User routes are rate limited per user. The same declarations
generate the OpenAPI document (`sociallab.http.openapi`), so a route also declares the statuses its
handler answers besides the router's own (`errors=(404, 409)`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from sociallab import ratelimit
from sociallab.access import Role, require_role
from sociallab.config import Settings, get_settings
from sociallab.db import get_db
from sociallab.errors import (
    AppError,
    AuthenticationError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RequestValidationError,
)
from sociallab.http import cors
from sociallab.http.auth import Authenticator, User
from sociallab.http.responses import error_response, request_id_for, to_response
from sociallab.logging import (
    configure_function,
    ensure_configured,
    get_logger,
    log_context,
    trace_fields,
    trace_project,
)
from sociallab.results import DataclassInstance

if TYPE_CHECKING:
    from pydantic import BaseModel

log = get_logger(__name__)

AuthKind = Literal["user", "scheduler", "webhook", "public"]
Handler = Callable[["Call"], Awaitable[Any]]
_PARAM = re.compile(r"\{([a-z_]+)(?::(uuid))?\}")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True, kw_only=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: tuple[AuthKind, ...]  # accepted callers, tried in order
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    headers: type[BaseModel] | None  # request headers, by alias (`X-Goog-Channel-Id`)
    form: type[BaseModel] | None  # a multipart body the handler reads itself; documented only
    response: type[BaseModel] | type[DataclassInstance] | None  # a dataclass needs no pydantic (scheduled routes)
    status: int
    also: tuple[int, ...]  # other success statuses, with the same body
    errors: tuple[int, ...]  # what the handler answers besides what the router itself may (see openapi)
    role: Role | None
    max_body_bytes: int | None
    summary: str
    pattern: re.Pattern[str] = field(repr=False)

    @property
    def openapi_path(self) -> str:
        return _PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def path_params(self) -> dict[str, bool]:
        """Each path parameter, and whether it must be a UUID."""
        return {m.group(1): m.group(2) == "uuid" for m in _PARAM.finditer(self.path)}


@dataclass
class Call:
    """What a handler gets: the parsed, authenticated request."""

    request: Request
    request_id: str
    function: str
    route: Route
    params: dict[str, str]
    settings: Settings
    body: Any = None
    query: Any = None
    headers: Any = None
    user: User | None = None
    role: Role | None = None

    @property
    def user_id(self) -> str:
        if self.user is None:  # a route that accepts users, called by one
            raise AppError("This route has no user.")
        return self.user.id

    async def require_role(self, workspace_id: str, minimum: Role) -> Role:
        """The caller's role in `workspace_id` (for routes whose workspace comes from a row).

        Raises:
            PermissionDeniedError: not a member, or a lower role.
        """
        async with get_db().transaction() as tx:
            return await require_role(tx, user_id=self.user_id, workspace_id=workspace_id, minimum=minimum)


_authenticators: dict[int, Authenticator] = {}


def authenticator(settings: Settings) -> Authenticator:
    """One Authenticator (and its JWKS caches) per settings object."""
    key = id(settings)
    if key not in _authenticators:
        _authenticators.clear()
        _authenticators[key] = Authenticator(settings)
    return _authenticators[key]


class Router:
    """The routes of one function. Making it sets up the function's logging (JSON lines, secrets
    redacted): an entry point needs nothing else for its logs (`sociallab.logging.configure_function`)."""

    def __init__(
        self, function: str, *, schedule_seconds: int | None = None, schedule_path: str = "/", description: str = ""
    ) -> None:
        configure_function(function)
        self.function = function
        self.schedule_seconds = schedule_seconds  # the local cron's cadence for scheduler-triggered functions
        self.schedule_path = schedule_path  # ... and the path it calls (infra/scheduler.tf's `path`)
        self.description = description
        self.routes: list[Route] = []
        self.route("GET", "/healthz", auth="public", summary="Liveness and database reachability")(_healthz)

    def route(
        self,
        method: str,
        path: str,
        *,
        auth: AuthKind | tuple[AuthKind, ...] = "user",
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        headers: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None,
        response: type[BaseModel] | type[DataclassInstance] | None = None,
        status: int = 200,
        also: tuple[int, ...] = (),
        errors: tuple[int, ...] = (),
        role: Role | None = None,
        max_body_bytes: int | None = None,
        summary: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register a handler. `errors` lists the statuses the handler itself may answer (404 for a
        row it cannot see, 409, ...); what the router answers on its own is derived from the other
        arguments. Both go into the OpenAPI document, which must list every status a route answers.
        """
        regex = "^" + _PARAM.sub(lambda m: f"(?P<{m.group(1)}>{_UUID if m.group(2) else '[^/]+'})", path) + "$"

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    auth=(auth,) if isinstance(auth, str) else auth,
                    body=body,
                    query=query,
                    headers=headers,
                    form=form,
                    response=response,
                    status=status,
                    also=also,
                    errors=errors,
                    role=role,
                    max_body_bytes=max_body_bytes,
                    summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                    pattern=re.compile(regex),
                )
            )
            return handler

        return register

    def get(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kwargs)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for `method` and `path`, with its path parameters.

        Raises:
            NotFoundError: no route has this path. MethodNotAllowedError: one has, not this method.
        """
        allowed: set[str] = set()
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method or (method == "HEAD" and route.method == "GET"):
                    return route, found.groupdict()
                allowed |= {route.method, "HEAD"} if route.method == "GET" else {route.method}
        if allowed:
            methods = tuple(sorted(allowed))
            raise MethodNotAllowedError(f"Use {', '.join(methods)} on this path.", allowed=methods)
        raise NotFoundError(f"No such endpoint: {path}")

    async def handle(self, request: Request) -> Response:
        """Serve one request; never raises."""
        request_id = request_id_for(request)
        path = function_path(request)
        started = time.perf_counter()
        ensure_configured()
        headers = request.headers
        origin = headers.get("origin")
        trace = trace_fields(headers.get("traceparent"), headers.get("x-cloud-trace-context"), trace_project())
        with log_context(request_id=request_id, function=self.function, **trace):
            try:
                if cors.is_preflight(request.method, origin, request.headers.get("access-control-request-method")):
                    return self._preflight(path, str(origin), request_id)
                route, params = self.match(request.method, path)
                call = await self._prepare(request, request_id, route, params)
                response = to_response(await route.handler(call), route.status)
            except AppError as exc:
                if exc.status >= 500:
                    log.error("request failed", extra={"error": exc.code, "detail": exc.message})
                response = error_response(exc, request_id)
            except Exception:
                log.exception("unhandled error")
                response = error_response(AppError("Something went wrong on our side."), request_id)
            response.headers["X-Request-Id"] = request_id
            if self._user_methods(path):
                cors.add_response_headers(response.headers, _allowed_origin(origin))
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response

    def _user_methods(self, path: str) -> set[str]:
        """The methods signed-in users may call on `path` (empty: no browser may call it)."""
        methods = {r.method for r in self.routes if "user" in r.auth and r.pattern.match(path)}
        return methods | {"HEAD"} if "GET" in methods else methods

    def _preflight(self, path: str, origin: str, request_id: str) -> Response:
        """A CORS preflight: 204 with the CORS headers for an allowed origin on a user-facing path.

        A path only the scheduler, webhooks or Drive call answers as any OPTIONS does (405, no CORS);
        an origin not in FRONTEND_ORIGINS gets a 403 without them, so the browser refuses the call.
        """
        methods = self._user_methods(path)
        response: Response
        try:
            if not methods:
                self.match("OPTIONS", path)  # raises: 404, or 405 with Allow
            allowed = _allowed_origin(origin)
            if allowed is None:
                raise PermissionDeniedError(f"Browsers on {origin} may not call this API (FRONTEND_ORIGINS).")
        except AppError as exc:
            response = error_response(exc, request_id)
        else:
            response = Response(status_code=204, headers=cors.preflight_headers(allowed, methods))
        response.headers["X-Request-Id"] = request_id
        if methods:
            response.headers["Vary"] = "Origin"
        log.info("preflight", extra={"path": path, "origin": origin, "status": response.status_code})
        return response

    async def _prepare(self, request: Request, request_id: str, route: Route, params: dict[str, str]) -> Call:
        settings = get_settings()
        call = Call(request, request_id, self.function, route, params, settings)
        call.user = await _authenticate(authenticator(settings), route.auth, request)
        if route.headers or route.query or route.body:
            await _parse(call, route.max_body_bytes or settings.max_body_bytes)
        if call.user is not None:
            workspace_id = _workspace_of(call) if route.role else None
            if route.role and not workspace_id:
                raise RequestValidationError(
                    "workspace_id is required.", details=[{"field": "workspace_id", "message": "Field required"}]
                )
            # Autocommit: the hit counts even when the role check below refuses the caller (a 403 must not
            # give non-members unlimited tries).
            async with get_db().statements() as tx:
                await ratelimit.hit(
                    tx, scope="http:user", key=call.user.id, limit=settings.rate_limit_per_minute, window_seconds=60
                )
                if route.role and workspace_id:
                    call.role = await require_role(
                        tx, user_id=call.user.id, workspace_id=workspace_id, minimum=route.role
                    )
        return call


async def _parse(call: Call, max_body_bytes: int) -> None:
    """The request's headers, query and body into the route's models.

    Raises:
        RequestValidationError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError.
    """
    # Here, not at the top: pydantic loads with the first request that has something to parse.
    from sociallab.http.parsing import parse_headers, parse_json_body, parse_query

    route, request = call.route, call.request
    if route.headers is not None:
        call.headers = parse_headers(request, route.headers)
    if route.query is not None:
        call.query = parse_query(request, route.query)
    if route.body is not None:
        call.body = await parse_json_body(request, route.body, max_body_bytes)


async def _authenticate(auth: Authenticator, kinds: tuple[AuthKind, ...], request: Request) -> User | None:
    """The user, when a user token is what got the caller in; None for the scheduler, webhooks, public.

    Raises:
        AuthenticationError: none of `kinds` accepts the caller (the last kind's reason is given).
    """
    refused: AuthenticationError | None = None
    for kind in kinds:
        try:
            if kind == "user":
                return await auth.user(request.headers.get("authorization"))
            if kind == "scheduler":
                await auth.scheduler(request.headers.get("authorization"))
            elif kind == "webhook":
                auth.webhook(request.headers.get("x-webhook-secret"))
            return None
        except AuthenticationError as exc:
            refused = exc
    assert refused is not None  # every route has at least one kind
    raise refused


def _allowed_origin(origin: str | None) -> str | None:
    """`origin` when FRONTEND_ORIGINS lists it; None otherwise, and when the configuration is broken."""
    try:
        return cors.allowed_origin(origin, get_settings().frontend_origin_list)
    except AppError:
        return None


def function_path(request: Request) -> str:
    """The path below the function's own URL ("/" for the function itself), without a trailing slash."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return "/" + path.strip("/")


def _workspace_of(call: Call) -> str | None:
    for source in (call.body, call.query):
        workspace_id = getattr(source, "workspace_id", None)
        if workspace_id is not None:
            return str(workspace_id)
    return None


async def _healthz(call: Call) -> dict[str, str]:
    await get_db().fetch_val("SELECT 1")
    return {"status": "ok", "function": call.function}
