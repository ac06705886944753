"""Responses: JSON bodies, the error envelope of API.md, request ids."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sociallab.errors import AppError, MethodNotAllowedError, RateLimitedError
from sociallab.results import response_fields

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_for(request: Request) -> str:
    """The caller's X-Request-Id when it is safe to echo, else the Cloud trace id, else a new id."""
    given = request.headers.get("x-request-id", "")
    if _SAFE_REQUEST_ID.match(given):
        return given
    trace = request.headers.get("x-cloud-trace-context", "").split("/", 1)[0]
    if re.fullmatch(r"[0-9a-f]{32}", trace):
        return trace
    return uuid.uuid4().hex


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """`content` as a JSON response: a pydantic model or a dataclass as its fields, anything else as it is."""
    if hasattr(content, "model_dump"):  # a pydantic model (duck-typed: this module does not load pydantic)
        content = content.model_dump(mode="json")
    elif dataclasses.is_dataclass(content) and not isinstance(content, type):
        content = response_fields(content)
    return JSONResponse(content, status_code=status, headers=headers)


def error_response(error: AppError, request_id: str | None) -> JSONResponse:
    """The error envelope of API.md (`sociallab.http.openapi.ErrorEnvelope` documents it)."""
    details = json.loads(json.dumps(error.details, default=str))  # a UUID or a time in a detail must not 500
    body = {"error": {"code": error.code, "message": error.message, "details": details, "request_id": request_id}}
    headers = {"X-Request-Id": request_id} if request_id else {}
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowedError):
        headers["Allow"] = ", ".join(error.allowed)
    return json_response(body, error.status, headers)


def to_response(result: Any, status: int) -> Response:
    """A handler's return value as a response: a Response as is, None as 204, anything else JSON."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    return json_response(result, status)
