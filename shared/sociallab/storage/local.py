"""Local file storage for `make run` and tests, with signed URLs the dev server serves.

Objects live in `STORAGE_LOCAL_DIR/<bucket>/<path>`; their content types in
`STORAGE_LOCAL_DIR/.meta/<bucket>/<path>` (a bucket name cannot start with a dot, so the two trees
never meet). Writes are atomic (temp file + fsync + `os.replace`); file I/O runs in a worker thread.

Signed URLs mirror Supabase's shape, `{PUBLIC_BASE_URL}/storage/v1/object/sign/{bucket}/{path}?token=`,
with an expiring HMAC token (key `URL_SIGNING_KEY`) bound to bucket and path. `local_storage_app`
serves them; the dev server mounts it at `/storage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sociallab.config import Settings
from sociallab.crypto import ExpiredTokenError, make_signed_token, read_signed_token
from sociallab.errors import (
    AppError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from sociallab.http.responses import error_response
from sociallab.storage.base import Storage, check_bucket, check_path

SIGN_PURPOSE = "storage.local.sign"
_DEFAULT_TYPE = "application/octet-stream"

Clock = Callable[[], float]


class LocalStorage(Storage):
    """Objects as files under `root/<bucket>/`."""

    backend = "local"

    def __init__(
        self,
        *,
        root: str | os.PathLike[str],
        bucket: str,
        public_base_url: str,
        signing_key: bytes | None,
        clock: Clock = time.time,
    ) -> None:
        """`signing_key` may be None when no signed URLs are needed; `clock` returns Unix seconds.

        Raises:
            ConfigurationError: bad bucket name (names STORAGE_BUCKET).
        """
        super().__init__(bucket)
        self.root = Path(root).resolve()
        self.public_base_url = public_base_url.rstrip("/")
        self._data_dir = self.root / self.bucket
        self._meta_dir = self.root / ".meta" / self.bucket
        self._signing_key = signing_key
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.time) -> LocalStorage:
        """A store for STORAGE_LOCAL_DIR, STORAGE_BUCKET, PUBLIC_BASE_URL and URL_SIGNING_KEY.

        Raises:
            ConfigurationError: bad bucket name (names STORAGE_BUCKET).
        """
        key = settings.url_signing_key.get_secret_value() if settings.url_signing_key else ""
        return cls(
            root=settings.storage_local_dir,
            bucket=settings.storage_bucket,
            public_base_url=settings.public_base_url,
            signing_key=key.encode("utf-8") or None,
            clock=clock,
        )

    async def read(self, path: str) -> tuple[bytes, str]:
        """The bytes stored at `path` and their content type.

        Raises:
            NotFoundError: nothing is stored there.
            BadRequestError: bad path.
        """
        return await asyncio.to_thread(self._read, check_path(path))

    def verify_token(self, path: str, token: str) -> None:
        """Check that `token` is an unexpired signature for this bucket and `path`.

        Raises:
            PermissionDeniedError: forged, expired, or made for another object.
            ConfigurationError: URL_SIGNING_KEY is not set.
        """
        try:
            claims = read_signed_token(token, key=self._key(), purpose=SIGN_PURPOSE, now=self._clock())
        except ExpiredTokenError:
            raise PermissionDeniedError("The signed URL has expired.") from None
        except AuthenticationError:
            raise PermissionDeniedError("The signed URL is invalid.") from None
        if claims.get("b") != self.bucket or claims.get("p") != path:
            raise PermissionDeniedError("The signed URL is invalid.")

    # --- Storage hooks ------------------------------------------------------------------------

    async def _put(self, path: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, path, data, content_type)

    async def _get(self, path: str) -> bytes:
        data, _ = await asyncio.to_thread(self._read, path)
        return data

    async def _delete(self, path: str) -> None:
        await asyncio.to_thread(self._remove, path)

    async def _exists(self, path: str) -> bool:
        return await asyncio.to_thread(lambda: self._locate(self._data_dir, path).is_file())

    async def _signed_url(self, path: str, expires_in: int) -> str:
        key = self._key()
        if not await self._exists(path):
            raise NotFoundError("Object not found.")
        token = make_signed_token(
            {"b": self.bucket, "p": path},
            key=key,
            purpose=SIGN_PURPOSE,
            ttl_seconds=expires_in,
            now=self._clock(),
        )
        return (
            f"{self.public_base_url}/storage/v1/object/sign/"
            f"{quote(self.bucket, safe='')}/{quote(path, safe='/')}?token={token}"
        )

    # --- blocking helpers (worker thread) -----------------------------------------------------

    def _key(self) -> bytes:
        if not self._signing_key:
            raise ConfigurationError("Missing configuration: URL_SIGNING_KEY must be set.")
        return self._signing_key

    @staticmethod
    def _locate(base: Path, path: str) -> Path:
        """`base/path`, refusing anything that resolves outside `base` (e.g. through a symlink)."""
        target = (base / path).resolve()
        if not target.is_relative_to(base.resolve()):
            raise BadRequestError("The storage path leaves the bucket.")
        return target

    def _write(self, path: str, data: bytes, content_type: str) -> None:
        try:
            _atomic_write(self._locate(self._meta_dir, path), content_type.encode("ascii"))
            _atomic_write(self._locate(self._data_dir, path), data)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise ConflictError("The path clashes with an existing object or folder.") from None

    def _read(self, path: str) -> tuple[bytes, str]:
        try:
            data = self._locate(self._data_dir, path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError("Object not found.") from None
        try:
            content_type = self._locate(self._meta_dir, path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            content_type = mimetypes.guess_type(path)[0] or _DEFAULT_TYPE
        return data, content_type or _DEFAULT_TYPE

    def _remove(self, path: str) -> None:
        for base in (self._data_dir, self._meta_dir):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                self._locate(base, path).unlink()


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def local_storage_app(settings: Settings, *, clock: Clock = time.time) -> Starlette:
    """The ASGI app serving local signed URLs; mount it at `/storage`.

    Serves `GET /v1/object/sign/{bucket}/{path}?token=` with the stored content type. Errors use
    the API error envelope: 400 for a malformed path, 403 for a bad, expired or foreign token,
    404 for a missing object. Nothing outside `STORAGE_LOCAL_DIR/<bucket>/` is ever read.

    Raises:
        ConfigurationError: URL_SIGNING_KEY is not set.
    """
    settings.require("url_signing_key")
    signing_key = settings.secret("url_signing_key").encode("utf-8")

    async def serve(request: Request) -> Response:
        try:
            path = check_path(request.path_params["path"])
            try:
                bucket = check_bucket(request.path_params["bucket"])
            except ConfigurationError:
                raise PermissionDeniedError("The signed URL is invalid.") from None
            storage = LocalStorage(
                root=settings.storage_local_dir,
                bucket=bucket,
                public_base_url=settings.public_base_url,
                signing_key=signing_key,
                clock=clock,
            )
            storage.verify_token(path, request.query_params.get("token", ""))
            data, content_type = await storage.read(path)
        except AppError as exc:
            return error_response(exc, None)
        return Response(
            data,
            headers={
                "Content-Type": content_type,
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    return Starlette(routes=[Route("/v1/object/sign/{bucket}/{path:path}", serve, methods=["GET", "HEAD"])])
