"""A small async Google Drive v3 client: the calls drive-sync needs, with a service account.

    tokens = ServiceAccountTokens(info, http)        # the JSON key of GOOGLE_SERVICE_ACCOUNT_JSON
    drive = DriveClient(http, base_url=settings.drive_api_url, tokens=tokens)
    async for f in drive.list_folder(folder_id): ...

Auth is the OAuth 2.0 JWT-bearer grant (scope `drive.readonly`): google-auth signs the assertion,
httpx posts it to the key's `token_uri`; the access token is cached until shortly before it expires.
Every call asks for explicit `fields` and passes `supportsAllDrives`, so shared drives work.

Errors (all `DriveError`, an `AppError`)::

    DriveError
     ├── DriveNotFoundError        404 notFound (or a file the account cannot see)
     ├── DrivePermissionError      403 insufficientFilePermissions / forbidden / 401 after a refresh
     ├── DriveTransientError       429, 403 rate limits, 5xx, timeouts, network errors (retried first)
     └── DriveFileTooLargeError    a download over the size limit

`transient` on the class says whether trying again later may help.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sociallab.config import Settings
from sociallab.errors import AppError, ConfigurationError
from sociallab.logging import get_logger

if TYPE_CHECKING:  # httpx is loaded where the function makes its client, on first use (cold start: issue 7)
    import httpx

log = get_logger(__name__)

SCOPE = "https://www.googleapis.com/auth/drive.readonly"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FILE_FIELDS = "id,name,mimeType,md5Checksum,size,parents,trashed,driveId,modifiedTime"
FOLDER_FIELDS = "id,name,mimeType,driveId,trashed,capabilities(canListChildren)"
FOLDER_MIME = "application/vnd.google-apps.folder"
RETRY_STATUSES = {429, 500, 502, 503, 504}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}

Sleep = Callable[[float], Awaitable[None]]


class DriveError(AppError):
    """Google Drive refused the call."""

    status = 502
    code = "drive_error"
    transient = False


class DriveNotFoundError(DriveError):
    """The file or folder does not exist, or the service account cannot see it."""

    status = 404
    code = "drive_not_found"


class DrivePermissionError(DriveError):
    """The service account may not read this file or folder."""

    status = 403
    code = "drive_forbidden"


class DriveTransientError(DriveError):
    """Google Drive is rate limiting us or unavailable; try again later."""

    status = 503
    code = "drive_unavailable"
    transient = True


class DriveFileTooLargeError(DriveError):
    """The file is larger than we import."""

    status = 413
    code = "drive_file_too_large"


@dataclass(frozen=True)
class ChangesPage:
    changes: list[dict[str, Any]]
    next_page_token: str | None  # more changes now: call again with this
    new_start_page_token: str | None  # no more changes: save this for the next sync


class ServiceAccountTokens:
    """Access tokens for a service account key, via the JWT-bearer grant, cached until near expiry."""

    def __init__(
        self, info: dict[str, Any], http: httpx.AsyncClient, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Raises `ConfigurationError` when `info` is not a usable service account key."""
        from google.auth import crypt

        try:
            self.email = str(info["client_email"])
            self.token_uri = str(info.get("token_uri") or "https://oauth2.googleapis.com/token")
            self._signer = crypt.RSASigner.from_service_account_info(info)
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"GOOGLE_SERVICE_ACCOUNT_JSON is not a service account key ({type(exc).__name__})."
            ) from None
        self.http, self.clock = http, clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> ServiceAccountTokens:
        """Raises `ConfigurationError` naming GOOGLE_SERVICE_ACCOUNT_JSON when it is unset or not a key."""
        raw = settings.secret("google_service_account_json")
        try:
            info = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigurationError("GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON.") from None
        if not isinstance(info, dict):
            raise ConfigurationError("GOOGLE_SERVICE_ACCOUNT_JSON must be a JSON object.")
        return cls(info, http)

    def invalidate(self) -> None:
        self._token = None

    async def token(self) -> str:
        """A valid access token.

        Raises:
            DrivePermissionError: the token endpoint refused the key.
            DriveTransientError: the token endpoint is unreachable or failing.
        """
        async with self._lock:
            if self._token is None or self.clock() >= self._expires_at - 60:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        import httpx
        from google.auth import jwt as google_jwt

        now = int(self.clock())
        claims = {"iss": self.email, "scope": SCOPE, "aud": self.token_uri, "iat": now, "exp": now + 3600}
        assertion = google_jwt.encode(self._signer, claims).decode()
        try:
            response = await self.http.post(self.token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion})
        except httpx.HTTPError as exc:
            raise DriveTransientError(f"The Google token endpoint is unreachable ({type(exc).__name__}).") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DriveTransientError(f"The Google token endpoint answered {response.status_code}.")
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise DrivePermissionError(f"Google refused the service account key: {reason}.")
        self._token = str(body["access_token"])
        self._expires_at = now + float(body.get("expires_in", 3600))


class DriveClient:
    """Drive v3 calls over an injected `httpx.AsyncClient` (which carries the timeouts)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        tokens: ServiceAccountTokens,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http, self.base_url, self.tokens = http, base_url.rstrip("/"), tokens
        self.max_attempts, self.base_delay, self.sleep = max_attempts, base_delay, sleep

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient, **kwargs: Any) -> DriveClient:
        """Raises `ConfigurationError` naming GOOGLE_SERVICE_ACCOUNT_JSON when it is missing or bad."""
        return cls(
            http, base_url=settings.drive_api_url, tokens=ServiceAccountTokens.from_settings(settings, http), **kwargs
        )

    async def get_file(self, file_id: str, fields: str = FILE_FIELDS) -> dict[str, Any]:
        """A file's or folder's metadata.

        Raises:
            DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        response = await self._request("GET", f"/files/{file_id}", {"fields": fields, "supportsAllDrives": "true"})
        return _json(response)

    async def list_folder(self, folder_id: str, *, drive_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every image directly in `folder_id` that is not trashed, page by page.

        Raises:
            DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        query = f"'{_quote(folder_id)}' in parents and mimeType contains 'image/' and trashed = false"
        params: dict[str, str] = {
            "q": query,
            "fields": f"nextPageToken,files({FILE_FIELDS})",
            "pageSize": "100",
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
            "orderBy": "createdTime",
        }
        if drive_id:
            params |= {"corpora": "drive", "driveId": drive_id}
        while True:
            body = _json(await self._request("GET", "/files", params))
            for item in body.get("files", []):
                yield item
            token = body.get("nextPageToken")
            if not token:
                return
            params["pageToken"] = token

    async def find_in_folder(self, folder_id: str, name: str, *, drive_id: str | None = None) -> list[dict[str, Any]]:
        """The files (of any type, not trashed) named exactly `name` directly in `folder_id` (first page).

        Raises:
            DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        query = f"'{_quote(folder_id)}' in parents and name = '{_quote(name)}' and trashed = false"
        params: dict[str, str] = {
            "q": query,
            "fields": "files(id,name,parents)",
            "pageSize": "10",
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
        }
        if drive_id:
            params |= {"corpora": "drive", "driveId": drive_id}
        body = _json(await self._request("GET", "/files", params))
        files = body.get("files", [])
        return [
            f
            for f in files
            if isinstance(f, dict)
            and str(f.get("name", "")).lower() == name.lower()
            and folder_id in (f.get("parents") or [])
        ]

    async def start_page_token(self, *, drive_id: str | None = None) -> str:
        """The changes cursor for "now" (save it before listing, so nothing slips between).

        Raises:
            DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        params = {"supportsAllDrives": "true"} | ({"driveId": drive_id} if drive_id else {})
        body = _json(await self._request("GET", "/changes/startPageToken", params))
        return str(body["startPageToken"])

    async def list_changes(self, page_token: str, *, drive_id: str | None = None) -> ChangesPage:
        """One page of changes since `page_token`.

        Raises:
            DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        params = {
            "pageToken": page_token,
            "fields": f"nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file({FILE_FIELDS}))",
            "pageSize": "100",
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
            "includeRemoved": "true",
        } | ({"driveId": drive_id} if drive_id else {})
        body = _json(await self._request("GET", "/changes", params))
        return ChangesPage(body.get("changes", []), body.get("nextPageToken"), body.get("newStartPageToken"))

    async def download(self, file_id: str, *, max_bytes: int) -> bytes:
        """A file's content (`alt=media`), refusing more than `max_bytes` while it streams.

        Raises:
            DriveFileTooLargeError, DriveNotFoundError, DrivePermissionError, DriveTransientError.
        """
        import httpx

        params = {"alt": "media", "supportsAllDrives": "true"}
        for attempt in range(1, self.max_attempts + 1):
            headers = {"Authorization": f"Bearer {await self.tokens.token()}"}
            try:
                async with self.http.stream("GET", self._url(f"/files/{file_id}"), params=params, headers=headers) as r:
                    if r.status_code == 200:
                        declared = r.headers.get("content-length")
                        if declared and declared.isdigit() and int(declared) > max_bytes:
                            raise DriveFileTooLargeError(f"The file is larger than {max_bytes} bytes.")
                        chunks, size = [], 0
                        async for chunk in r.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise DriveFileTooLargeError(f"The file is larger than {max_bytes} bytes.")
                            chunks.append(chunk)
                        return b"".join(chunks)
                    await r.aread()
                    error = _error_for(r)
            except httpx.HTTPError as exc:
                error = DriveTransientError(f"Google Drive is unreachable ({type(exc).__name__}).")
            if not await self._should_retry(error, attempt):
                raise error
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, params: dict[str, str]) -> httpx.Response:
        import httpx

        for attempt in range(1, self.max_attempts + 1):
            headers = {"Authorization": f"Bearer {await self.tokens.token()}"}
            try:
                response = await self.http.request(method, self._url(path), params=params, headers=headers)
            except httpx.HTTPError as exc:
                error: DriveError = DriveTransientError(f"Google Drive is unreachable ({type(exc).__name__}).")
            else:
                if response.status_code < 400:
                    return response
                error = _error_for(response)
            if not await self._should_retry(error, attempt):
                raise error
        raise AssertionError("unreachable")

    async def _should_retry(self, error: DriveError, attempt: int) -> bool:
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, _Unauthorized):
            self.tokens.invalidate()  # the token was revoked or expired early: one fresh try
            return attempt == 1
        if not error.transient:
            return False
        delay = self.base_delay * 2 ** (attempt - 1) * (1 + random.random() / 4)
        log.info("drive call retried", extra={"attempt": attempt, "error": error.code, "delay_s": round(delay, 2)})
        await self.sleep(delay)
        return True

    def _url(self, path: str) -> str:
        return self.base_url + path


class _Unauthorized(DrivePermissionError):
    """Google Drive did not accept our access token."""


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_for(response: httpx.Response) -> DriveError:
    """The DriveError for a Google error response (`{"error": {"code", "message", "errors": [{reason}]}}`)."""
    error = _json(response).get("error")
    error = error if isinstance(error, dict) else {}
    reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
    message = str(error.get("message") or f"HTTP {response.status_code}")[:300]
    status = response.status_code
    if status == 401:
        return _Unauthorized(f"Google Drive refused the access token: {message}")
    if status in RETRY_STATUSES or (status == 403 and reasons & RATE_LIMIT_REASONS):
        return DriveTransientError(f"Google Drive is busy ({status}): {message}")
    if status == 404:
        return DriveNotFoundError(f"Google Drive: {message}")
    if status == 403:
        return DrivePermissionError(f"Google Drive: {message}")
    return DriveError(f"Google Drive answered {status}: {message}")
