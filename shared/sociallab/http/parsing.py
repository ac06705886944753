"""Reading requests into pydantic models, with the limits that keep bad input from hurting us.

400: the body is not JSON, or nests deeper than `MAX_JSON_DEPTH`. 413: it is larger than the route
allows. 415: it is not JSON at all. 422: valid JSON that breaks the model (wrong types, unknown
fields, missing fields), with one `details` entry per problem. Input values are never echoed back
(they may hold secrets).

Bodies are read with `sociallab.jsonlimits.load_json`, which bounds their nesting before parsing
(a body of 200 KB of `[` would otherwise recurse out of the interpreter and answer 500).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import ClientDisconnect, Request

from sociallab.errors import (
    BadRequestError,
    PayloadTooLargeError,
    RequestValidationError,
    UnsupportedMediaTypeError,
)
from sociallab.jsonlimits import MAX_JSON_DEPTH, JSONTooDeepError, load_json

M = TypeVar("M", bound=BaseModel)


class RequestModel(BaseModel):
    """Base for request bodies and queries: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def validate(model: type[M], data: Any, where: str = "body") -> M:
    """`data` as an instance of `model`.

    Raises:
        RequestValidationError: one detail per invalid field.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(f"The request {where} is invalid.", details=validation_details(exc)) from None


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all.

    Raises:
        PayloadTooLargeError: the declared or actual length exceeds `limit`.
        BadRequestError: the client went away or sent a bad Content-Length.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequestError("Content-Length is not a number.")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"The body is larger than {limit} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequestError("The client disconnected.") from None
    return b"".join(chunks)


async def parse_json_body(request: Request, model: type[M], limit: int) -> M:
    """The JSON body validated as `model`; an empty body counts as `{}`.

    Raises:
        UnsupportedMediaTypeError, PayloadTooLargeError, RequestValidationError.
        BadRequestError: not JSON, or nested deeper than `MAX_JSON_DEPTH`.
    """
    raw = await read_body(request, limit)
    if not raw.strip():
        return validate(model, {})
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaTypeError("Send the body as application/json.")
    try:
        data = load_json(raw)
    except JSONTooDeepError:
        raise BadRequestError(f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as exc:
        position = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequestError(f"The body is not valid JSON{position}.") from None
    return validate(model, data)


def parse_query(request: Request, model: type[M]) -> M:
    """The query string validated as `model` (a repeated key keeps its last value).

    Raises:
        RequestValidationError: a parameter is invalid or unknown.
    """
    return validate(model, dict(request.query_params), where="query")


def parse_headers(request: Request, model: type[M]) -> M:
    """The request headers `model` names (by each field's alias, e.g. `X-Goog-Channel-Id`), validated.

    Raises:
        RequestValidationError: a header is missing or invalid.
    """
    names = [field.alias or name for name, field in model.model_fields.items()]
    return validate(model, {name: request.headers[name] for name in names if name in request.headers}, "headers")
