"""CORS for the routes a browser calls: those a signed-in user may call (`auth` includes "user").

Allowed origins are the exact origins in FRONTEND_ORIGINS; nothing is a wildcard and no cookies are
involved (users send `Authorization: Bearer`), so `Access-Control-Allow-Credentials` is never sent.
A preflight is answered before authentication (browsers send it without the token). Routes only
Cloud Scheduler, webhooks or Drive push call send no CORS headers at all, so a page can never call
them. Every answer of a user-facing route says `Vary: Origin`, since it differs by origin.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders

ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Retry-After, X-Request-Id"
PREFLIGHT_MAX_AGE_SECONDS = 600


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    """An `OPTIONS` carrying `Origin` and `Access-Control-Request-Method` (a plain OPTIONS is not one)."""
    return method == "OPTIONS" and bool(origin) and bool(requested_method)


def allowed_origin(origin: str | None, allowed: Iterable[str]) -> str | None:
    """`origin` when it is exactly one of `allowed` (scheme, host and port), else None."""
    if not origin or origin == "null":
        return None
    return origin if origin.rstrip("/") in set(allowed) else None


def add_response_headers(headers: MutableHeaders, origin: str | None) -> None:
    """The headers of an actual (non-preflight) answer of a user-facing route."""
    headers["Vary"] = "Origin"
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def preflight_headers(origin: str, methods: Iterable[str]) -> dict[str, str]:
    """The headers of a preflight answer for an allowed `origin` and the path's user-facing `methods`."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(sorted(set(methods))),
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "Vary": "Origin",
    }
