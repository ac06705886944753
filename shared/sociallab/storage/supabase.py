"""Supabase Storage through storage3's async client (`{SUPABASE_URL}/storage/v1`).

Authenticates with the service role key (`apikey` + `Authorization: Bearer`). Supabase reports
most errors with HTTP 400 and the real status in the body (`{"statusCode": "404", "error":
"not_found", "message": "Object not found"}`), so errors are mapped from the body's status and
code, never from the HTTP status alone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import httpx

from sociallab.config import Settings
from sociallab.errors import AppError, ConfigurationError, DependencyUnavailableError, NotFoundError
from sociallab.storage.base import Storage

if TYPE_CHECKING:
    from storage3._async.file_api import AsyncBucketProxy

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

_NOT_FOUND_CODES = {"not_found", "NoSuchKey", "Not Found"}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "Bucket not found"}
_CREDENTIAL_CODES = {"InvalidJWT", "AccessDenied", "Unauthorized", "InvalidSignature", "SignatureDoesNotMatch"}
_TRANSIENT_CODES = {"SlowDown", "DatabaseTimeout", "DatabaseConnectionLimit", "LockTimeout", "InternalError"}


class SupabaseStorage(Storage):
    """One bucket of Supabase Storage."""

    backend = "supabase"

    def __init__(
        self,
        *,
        url: str,
        service_role_key: str,
        bucket: str,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """`http_client` is used as given (the caller owns it); otherwise one is made per event loop.

        Raises:
            ConfigurationError: bad bucket name (names STORAGE_BUCKET).
        """
        super().__init__(bucket)
        from storage3 import AsyncStorageClient
        from storage3.utils import StorageException

        self._client_class = AsyncStorageClient
        self._errors: tuple[type[Exception], ...] = (StorageException, httpx.HTTPError)
        self._base_url = f"{url.rstrip('/')}/storage/v1/"
        self._headers = {"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}"}
        self._injected = http_client
        self._owned: httpx.AsyncClient | None = None
        self._api: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, http_client: httpx.AsyncClient | None = None) -> SupabaseStorage:
        """A store for SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY and STORAGE_BUCKET.

        Raises:
            ConfigurationError: SUPABASE_URL or SUPABASE_SERVICE_ROLE_KEY is unset, or a bad bucket name.
        """
        settings.require("supabase_url", "supabase_service_role_key")
        assert settings.supabase_url is not None
        return cls(
            url=settings.supabase_url,
            service_role_key=settings.secret("supabase_service_role_key"),
            bucket=settings.storage_bucket,
            http_client=http_client,
        )

    def _files(self) -> AsyncBucketProxy:
        """The bucket's file API on a client that belongs to the running event loop."""
        loop = asyncio.get_running_loop()
        if self._api is None or (self._injected is None and self._loop is not loop):
            # A client made on another (finished) loop cannot be closed from here; it is dropped.
            self._owned = None if self._injected else httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
            http = self._injected or self._owned
            self._api = self._client_class(self._base_url, self._headers, http_client=http)
            self._loop = loop
        files: AsyncBucketProxy = self._api.from_(self.bucket)
        return files

    async def aclose(self) -> None:
        """Close the HTTP client this store made (never an injected one)."""
        owned, loop = self._owned, self._loop
        self._owned, self._api, self._loop = None, None, None
        if owned is not None and loop is asyncio.get_running_loop():
            await owned.aclose()

    async def _put(self, path: str, data: bytes, content_type: str) -> None:
        try:
            await self._files().upload(path, data, file_options={"content-type": content_type, "upsert": "true"})
        except self._errors as exc:
            raise _translate(exc) from exc

    async def _get(self, path: str) -> bytes:
        try:
            return await self._files().download(path)
        except self._errors as exc:
            raise _translate(exc) from exc

    async def _delete(self, path: str) -> None:
        try:
            await self._files().remove([path])
        except self._errors as exc:
            raise _translate(exc) from exc

    async def _exists(self, path: str) -> bool:
        try:
            await self._files().info(path)
        except self._errors as exc:
            error = _translate(exc)
            if isinstance(error, NotFoundError):
                return False
            raise error from exc
        return True

    async def _signed_url(self, path: str, expires_in: int) -> str:
        try:
            result = await self._files().create_signed_url(path, expires_in)
        except self._errors as exc:
            raise _translate(exc) from exc
        except ValueError as exc:  # pydantic: the reply was not the documented shape
            raise DependencyUnavailableError("Supabase Storage sent an unexpected reply.") from exc
        url = result.get("signedURL") or result.get("signedUrl")
        if not url:
            raise DependencyUnavailableError("Supabase Storage did not return a signed URL.")
        return url if url.startswith(("http://", "https://")) else urljoin(self._base_url, url.lstrip("/"))


def _translate(exc: Exception) -> AppError:
    """Map a storage3 or httpx failure to the project's errors (never echoes credentials)."""
    if isinstance(exc, httpx.TransportError):
        return DependencyUnavailableError("Supabase Storage is unreachable.")
    status = str(getattr(exc, "status", "") or "")
    code = str(getattr(exc, "code", "") or "")
    message = str(getattr(exc, "message", "") or "")
    if code in _MISSING_BUCKET_CODES or message == "Bucket not found":
        return ConfigurationError("The storage bucket does not exist in Supabase; check STORAGE_BUCKET.")
    if status == "404" or code in _NOT_FOUND_CODES:
        return NotFoundError("Object not found.")
    if status in {"401", "403"} or code in _CREDENTIAL_CODES:
        return ConfigurationError("Supabase Storage refused our credentials; check SUPABASE_SERVICE_ROLE_KEY.")
    if status == "429" or code in _TRANSIENT_CODES or (status.isdigit() and int(status) >= 500):
        return DependencyUnavailableError("Supabase Storage is unavailable; try again shortly.")
    return AppError(f"Supabase Storage refused the request ({code or status or 'unknown error'}).")
