"""Reading a photo upload (multipart/form-data) with hard limits, before any decoding.

The raw body is capped first (40 MB of file plus a little for the other fields), counted while it
streams, so a client without Content-Length cannot push more; only then is the multipart parsed
(one file, a few short fields).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from sociallab.errors import BadRequestError, RequestValidationError, UnsupportedMediaTypeError
from sociallab.http.parsing import read_body

FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and the small fields
MAX_FIELD_BYTES = 8 * 1024


@dataclass(frozen=True)
class Upload:
    workspace_id: str
    data: bytes
    filename: str | None
    tags: list[str]
    match_id: str | None


async def read_upload(request: Request) -> Upload:
    """The fields of a photo upload: `workspace_id`, `file`, optional `tags` (repeatable) and `match_id`.

    Raises:
        UnsupportedMediaTypeError: the body is not multipart/form-data.
        PayloadTooLargeError: the body or the file is larger than 40 MB.
        BadRequestError: malformed multipart, or more than one file.
        RequestValidationError: a field is missing, unknown or not a UUID.
    """
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise UnsupportedMediaTypeError("Send the photo as multipart/form-data.")
    from sociallab.content.intake import MAX_BYTES  # Pillow: loaded by the first upload (issue 7)

    raw = await read_body(request, MAX_BYTES + FORM_OVERHEAD_BYTES)
    buffered = Request({k: v for k, v in request.scope.items() if k != "app"}, _replay(raw))
    try:
        form = await buffered.form(max_files=1, max_fields=40, max_part_size=MAX_FIELD_BYTES)
    except (MultiPartException, HTTPException) as exc:
        message = getattr(exc, "message", None) or getattr(exc, "detail", "")
        raise BadRequestError(f"The multipart body could not be read: {message}") from None
    try:
        return await _fields(form.multi_items())
    finally:
        await form.close()


async def _fields(items: list[tuple[str, str | UploadFile]]) -> Upload:
    problems: list[dict[str, str]] = []
    values: dict[str, list[str]] = {}
    file: UploadFile | None = None
    for name, value in items:
        if name == "file":
            if not isinstance(value, UploadFile):
                problems.append({"field": "file", "message": "must be a file part"})
            else:
                file = value
        elif name in ("workspace_id", "tags", "match_id"):
            if isinstance(value, UploadFile):
                problems.append({"field": name, "message": "must be a text field"})
            else:
                values.setdefault(name, []).append(value.strip())
        else:
            problems.append({"field": name, "message": "Extra inputs are not permitted"})
    workspace_id = _uuid(values.get("workspace_id"), "workspace_id", problems, required=True)
    match_id = _uuid(values.get("match_id"), "match_id", problems, required=False)
    if file is None:
        problems.append({"field": "file", "message": "Field required"})
    if problems or file is None or workspace_id is None:
        raise RequestValidationError("The upload is invalid.", details=problems)
    from sociallab.content.intake import check_size

    check_size(file.size)
    data = await file.read()
    check_size(len(data))
    return Upload(workspace_id, data, file.filename, values.get("tags", []), match_id)


def _uuid(given: list[str] | None, field: str, problems: list[dict[str, str]], *, required: bool) -> str | None:
    if not given or not given[-1]:
        if required:
            problems.append({"field": field, "message": "Field required"})
        return None
    try:
        return str(uuid.UUID(given[-1]))
    except ValueError:
        problems.append({"field": field, "message": "Input should be a valid UUID"})
        return None


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, object]]]:
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
