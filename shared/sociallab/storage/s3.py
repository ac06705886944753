"""Any S3-compatible store through boto3 (AWS S3, Supabase's `/storage/v1/s3`, MinIO, moto).

The endpoint comes from `S3_ENDPOINT_URL` (unset: AWS), the region from `S3_REGION`, credentials
from the standard AWS_* variables (or any other source boto3 reads). boto3 is blocking, so every
call runs in a worker thread; the client is made on first use and shared (boto3 clients are
thread-safe).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sociallab.config import Settings
from sociallab.errors import AppError, ConfigurationError, DependencyUnavailableError, NotFoundError
from sociallab.storage.base import Storage

T = TypeVar("T")

_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_CREDENTIAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "403",
    "401",
}
_TRANSIENT_CODES = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}


class S3Storage(Storage):
    """One bucket of an S3-compatible store."""

    backend = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        max_attempts: int = 3,
    ) -> None:
        """Nothing touches the network here; the boto3 client is made on first use.

        `max_attempts` counts the first try (boto3's standard retry mode, with backoff).

        Raises:
            ConfigurationError: bad bucket name (names STORAGE_BUCKET).
        """
        super().__init__(bucket)
        import botocore.exceptions

        self._botocore_errors = botocore.exceptions
        self.endpoint_url = endpoint_url
        self.region = region
        self.max_attempts = max_attempts
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """A store for STORAGE_BUCKET, S3_ENDPOINT_URL and S3_REGION.

        Raises:
            ConfigurationError: bad bucket name (names STORAGE_BUCKET).
        """
        return cls(bucket=settings.storage_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    signature_version="s3v4",
                    # Custom endpoints rarely have wildcard DNS for virtual-hosted buckets.
                    s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"max_attempts": self.max_attempts, "mode": "standard"},
                )
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config
                )
            return self._client

    async def _run(self, call: Callable[[], T]) -> T:
        """Run a blocking boto3 call in a worker thread, translating its errors."""

        def guarded() -> T:
            try:
                return call()
            except self._botocore_errors.BotoCoreError as exc:
                raise self._translate(exc) from exc
            except self._botocore_errors.ClientError as exc:
                raise self._translate(exc) from exc

        return await asyncio.to_thread(guarded)

    def _translate(self, exc: Exception) -> AppError:
        errors = self._botocore_errors
        if isinstance(exc, errors.NoCredentialsError | errors.PartialCredentialsError):
            return ConfigurationError(
                "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another boto3 source)."
            )
        if isinstance(exc, errors.EndpointConnectionError | errors.ConnectionError | errors.HTTPClientError):
            return DependencyUnavailableError("The S3 store is unreachable.")
        if isinstance(exc, errors.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return ConfigurationError("The storage bucket does not exist; check STORAGE_BUCKET.")
            if code in _NOT_FOUND_CODES:
                return NotFoundError("Object not found.")
            if code in _CREDENTIAL_CODES:
                return ConfigurationError("The S3 store refused our credentials; check the AWS_* variables.")
            if code in _TRANSIENT_CODES:
                return DependencyUnavailableError("The S3 store is unavailable; try again shortly.")
            return AppError(f"The S3 store refused the request ({code or 'unknown error'}).")
        return AppError("The S3 store failed.")

    async def _put(self, path: str, data: bytes, content_type: str) -> None:
        await self._run(
            lambda: self._s3().put_object(Bucket=self.bucket, Key=path, Body=data, ContentType=content_type)
        )

    async def _get(self, path: str) -> bytes:
        def download() -> bytes:
            response = self._s3().get_object(Bucket=self.bucket, Key=path)
            with response["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._run(download)

    async def _delete(self, path: str) -> None:
        await self._run(lambda: self._s3().delete_object(Bucket=self.bucket, Key=path))

    async def _exists(self, path: str) -> bool:
        try:
            await self._run(lambda: self._s3().head_object(Bucket=self.bucket, Key=path))
        except NotFoundError:
            return False
        return True

    async def _signed_url(self, path: str, expires_in: int) -> str:
        if not await self._exists(path):
            raise NotFoundError("Object not found.")
        url: str = await self._run(
            lambda: self._s3().generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": path}, ExpiresIn=expires_in
            )
        )
        return url
