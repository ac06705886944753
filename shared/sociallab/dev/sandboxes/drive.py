"""A Google Drive v3 stand-in for `make run` and the tests: an ASGI app over in-memory files.

    sandbox = DriveSandbox()
    folder = sandbox.add_folder("Match photos")
    sandbox.add_file("goal.jpg", jpeg_bytes, parents=[folder])
    app = sandbox.app()                              # serve it (uvicorn, or mount it)
    info = sandbox.service_account_info(base_url)    # -> GOOGLE_SERVICE_ACCOUNT_JSON
    # DRIVE_API_URL = f"{base_url}/drive/v3"

It behaves like Drive for what drive-sync calls: `files.get` (+ `alt=media`), `files.list` with
the folder's images query or the exact-name query of a source's verification file (`'<folder>'
in parents and name = '<name>' and trashed = false`), `fields`, `pageToken` pagination and
shared drives (`supportsAllDrives`, `includeItemsFromAllDrives`, `corpora=drive` + `driveId`),
`changes.getStartPageToken` and `changes.list`, and the service account token endpoint
(`POST /token`, JWT-bearer grant; the assertion's signature is checked against the key it handed
out). Errors use Google's JSON shape:
404 notFound, 403 insufficientFilePermissions, 429 rateLimitExceeded, 503 backendError;
`fail_next` injects them. Every request is recorded in `requests`.

Control routes stand in for what a person does in the Drive UI (for `make run`):
`POST /_sandbox/folders {"name"}` and `POST /_sandbox/files {"name", "parent", "mime_type"?}`
(an empty file, e.g. a source's verification file) answer `{"id"}`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FOLDER_MIME = "application/vnd.google-apps.folder"
_QUOTED = r"'((?:[^'\\]|\\.)+)'"
_FOLDER_QUERY = re.compile(rf"^{_QUOTED} in parents and mimeType contains 'image/' and trashed = false$")
_NAME_QUERY = re.compile(rf"^{_QUOTED} in parents and name = {_QUOTED} and trashed = false$")
_GUESS = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"RIFF": "image/webp"}


@dataclass
class SandboxFile:
    id: str
    name: str
    mime_type: str
    data: bytes
    parents: list[str]
    drive_id: str | None = None
    trashed: bool = False
    readable: bool = True  # False: the service account has no access (403 on get)
    modified: str = ""

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    def resource(self, fields: set[str] | None) -> dict[str, Any]:
        full: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "trashed": self.trashed,
            "modifiedTime": self.modified,
            "capabilities": {"canListChildren": self.mime_type == FOLDER_MIME and self.readable},
        }
        if self.mime_type != FOLDER_MIME:
            full |= {"md5Checksum": self.md5, "size": str(len(self.data))}
        if self.drive_id:
            full["driveId"] = self.drive_id
        return full if fields is None else {k: v for k, v in full.items() if k in fields}


@dataclass
class _Fault:
    path_prefix: str
    status: int
    reason: str
    times: int


@dataclass
class DriveSandbox:
    page_size_cap: int = 100
    files: dict[str, SandboxFile] = field(default_factory=dict)
    changes: list[tuple[int, str]] = field(default_factory=list)  # (change number, file id)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    faults: list[_Fault] = field(default_factory=list)
    client_email: str = "sociallab-sync@sandbox-project.iam.gserviceaccount.com"
    _counter: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    # --- setting the scene ----------------------------------------------------------------------

    def add_folder(
        self, name: str, *, drive_id: str | None = None, readable: bool = True, folder_id: str | None = None
    ) -> str:
        """A folder (`folder_id` gives it a fixed id, e.g. the demo folder that must survive restarts)."""
        folder = SandboxFile(folder_id or self._id("folder"), name, FOLDER_MIME, b"", [], drive_id, readable=readable)
        return self._add(folder)

    def add_file(
        self,
        name: str,
        data: bytes,
        *,
        parents: list[str],
        mime_type: str | None = None,
        drive_id: str | None = None,
        readable: bool = True,
    ) -> str:
        mime = mime_type or next((m for magic, m in _GUESS.items() if data.startswith(magic)), "image/heic")
        if drive_id is None and parents and parents[0] in self.files:
            drive_id = self.files[parents[0]].drive_id
        return self._add(SandboxFile(self._id("file"), name, mime, data, parents, drive_id, readable=readable))

    def update_file(self, file_id: str, *, data: bytes | None = None, trashed: bool | None = None) -> None:
        with self._lock:
            f = self.files[file_id]
            if data is not None:
                f.data = data
            if trashed is not None:
                f.trashed = trashed
            self._record_change(file_id)

    def delete_file(self, file_id: str) -> None:
        with self._lock:
            self.files.pop(file_id)
            self._record_change(file_id)

    def fail_next(self, path_prefix: str, status: int, reason: str | None = None, *, times: int = 1) -> None:
        """The next `times` requests whose path starts with `path_prefix` (e.g. "/drive/v3/files") fail."""
        default = {403: "insufficientFilePermissions", 404: "notFound", 429: "rateLimitExceeded"}
        self.faults.append(_Fault(path_prefix, status, reason or default.get(status, "backendError"), times))

    def service_account_info(self, base_url: str) -> dict[str, str]:
        """A service account key whose `token_uri` is this sandbox at `base_url`."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": "sandbox-project",
            "private_key_id": "sandbox-key-1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "token_uri": f"{base_url.rstrip('/')}/token",
        }

    def calls(self, path_prefix: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if r[1].startswith(path_prefix)]

    # --- the app ---------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/drive/v3/files", self._list, methods=["GET"]),
                Route("/drive/v3/files/{file_id}", self._get, methods=["GET"]),
                Route("/drive/v3/changes/startPageToken", self._start_token, methods=["GET"]),
                Route("/drive/v3/changes", self._changes, methods=["GET"]),
                Route("/_sandbox/folders", self._control_folder, methods=["POST"]),
                Route("/_sandbox/files", self._control_file, methods=["POST"]),
            ]
        )

    async def _control_folder(self, request: Request) -> Response:
        body = await _json_object(request)
        if not isinstance(body.get("name"), str) or not body["name"]:
            return _google_error(400, "required", "name is required.")
        return JSONResponse({"id": self.add_folder(body["name"])}, status_code=201)

    async def _control_file(self, request: Request) -> Response:
        body = await _json_object(request)
        name, parent, mime = body.get("name"), body.get("parent"), body.get("mime_type", "text/plain")
        if not isinstance(name, str) or not name or not isinstance(mime, str):
            return _google_error(400, "required", "name (and a string mime_type) are required.")
        if not isinstance(parent, str) or parent not in self.files or self.files[parent].mime_type != FOLDER_MIME:
            return _google_error(404, "notFound", f"No such folder: {parent}.")
        return JSONResponse({"id": self.add_file(name, b"", parents=[parent], mime_type=mime)}, status_code=201)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        self.requests.append(("POST", request.url.path, {}))
        if (fault := self._fault(request)) is not None:
            return fault
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion", "")),
                self._key.public_key(),
                algorithms=["RS256"],
                audience=str(request.url.replace(query="")),
            )
        except jwt.PyJWTError as exc:
            return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, status_code=400)
        if claims.get("iss") != self.client_email or "drive.readonly" not in str(claims.get("scope")):
            return JSONResponse({"error": "invalid_grant", "error_description": "bad claims"}, status_code=400)
        token = "ya29.sandbox-" + secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + 3600
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _list(self, request: Request) -> Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        q = request.query_params
        images, named = _FOLDER_QUERY.match(q.get("q", "")), _NAME_QUERY.match(q.get("q", ""))
        match = images or named
        if not match or "fields" not in q:
            return _google_error(400, "invalidParameter", "This sandbox answers the folder and name queries.")
        folder = self.files.get(_unquote(match.group(1)))
        shared = folder is not None and folder.drive_id is not None
        if shared and not (q.get("supportsAllDrives") == "true" and q.get("includeItemsFromAllDrives") == "true"):
            items: list[SandboxFile] = []  # like Drive: shared drive items are left out without the flags
        elif folder is None or not folder.readable:
            items = []
        else:
            wanted = _unquote(named.group(2)) if named else None
            items = [
                f
                for f in self.files.values()
                if folder.id in f.parents
                and not f.trashed
                and f.readable
                and (f.name == wanted if wanted is not None else f.mime_type.startswith("image/"))
            ]
        start = int(q.get("pageToken") or 0)
        size = min(int(q.get("pageSize") or 100), self.page_size_cap)
        page = items[start : start + size]
        body: dict[str, Any] = {"files": [f.resource(_fields(q["fields"], "files")) for f in page]}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    async def _get(self, request: Request) -> Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        f = self.files.get(request.path_params["file_id"])
        if f is None or (f.drive_id and request.query_params.get("supportsAllDrives") != "true"):
            return _google_error(404, "notFound", f"File not found: {request.path_params['file_id']}.")
        if not f.readable:
            return _google_error(
                403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file."
            )
        if request.query_params.get("alt") == "media":
            return Response(f.data, media_type=f.mime_type)
        fields = request.query_params.get("fields")
        return JSONResponse(f.resource(_fields(fields) if fields else {"id", "name", "mimeType", "kind"}))

    async def _start_token(self, request: Request) -> Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        return JSONResponse({"kind": "drive#startPageToken", "startPageToken": str(self._counter + 1)})

    async def _changes(self, request: Request) -> Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        q = request.query_params
        token = q.get("pageToken", "")
        if not token.isdigit():
            return _google_error(400, "invalid", "Invalid Value", location="pageToken")
        size = min(int(q.get("pageSize") or 100), self.page_size_cap)
        pending = [(n, fid) for n, fid in self.changes if n >= int(token)]
        page, rest = pending[:size], pending[size:]
        wanted = _fields(q.get("fields", ""), "changes")
        file_fields = _fields(q.get("fields", ""), "file") or None
        changes = []
        for _, file_id in page:
            f = self.files.get(file_id)
            if f is not None and f.drive_id and q.get("includeItemsFromAllDrives") != "true":
                continue
            visible = f is not None and f.readable
            change: dict[str, Any] = {"changeType": "file", "fileId": file_id, "removed": not visible}
            if visible and f is not None:
                change["file"] = f.resource(file_fields)
            changes.append({k: v for k, v in change.items() if not wanted or k in wanted})
        body: dict[str, Any] = {"changes": changes}
        if rest:
            body["nextPageToken"] = str(rest[0][0])
        else:
            body["newStartPageToken"] = str(self._counter + 1)
        return JSONResponse(body)

    # --- internals -------------------------------------------------------------------------------

    def _refuse(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path, dict(request.query_params)))
        if (fault := self._fault(request)) is not None:
            return fault
        auth = request.headers.get("authorization", "")
        expires = self.tokens.get(auth.removeprefix("Bearer "))
        if expires is None or expires < time.time():
            return _google_error(401, "authError", "Request had invalid authentication credentials.")
        return None

    def _fault(self, request: Request) -> Response | None:
        for fault in self.faults:
            if fault.times > 0 and request.url.path.startswith(fault.path_prefix):
                fault.times -= 1
                return _google_error(fault.status, fault.reason, f"Injected {fault.reason}.")
        return None

    def _id(self, kind: str) -> str:
        return f"{kind}-{secrets.token_hex(6)}"

    def _add(self, f: SandboxFile) -> str:
        with self._lock:
            f.modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            self.files[f.id] = f
            self._record_change(f.id)
        return f.id

    def _record_change(self, file_id: str) -> None:
        self._counter += 1
        self.changes.append((self._counter, file_id))


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unquote(value: str) -> str:
    return value.replace("\\'", "'").replace("\\\\", "\\")


def _fields(spec: str, within: str | None = None) -> set[str]:
    """The field names of a `fields` selector, optionally those inside `within(...)`."""
    if within:
        match = re.search(rf"\b{within}\(([^()]*(?:\([^()]*\)[^()]*)*)\)", spec)
        spec = match.group(1) if match else ""
    top, depth, current = set(), 0, ""
    for ch in spec + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            if current.strip():
                top.add(current.strip())
            current = ""
            continue
        if depth == 0 and ch not in "()":
            current += ch
    return top


def _google_error(status: int, reason: str, message: str, *, location: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"domain": "global", "reason": reason, "message": message}
    if location:
        error |= {"location": location, "locationType": "parameter"}
    body = {"error": {"code": status, "message": message, "errors": [error]}}
    if status in (401, 403, 404, 429, 503):
        body["error"]["status"] = {
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            503: "UNAVAILABLE",
        }[status]
    return JSONResponse(body, status_code=status)
