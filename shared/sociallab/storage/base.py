"""The image store's interface, and the input checks every backend shares.

Backends implement the `_put`/`_get`/... hooks; the public methods validate first, so a path or a
content type reaches a backend only after `check_path`/`check_content_type` accepted it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from types import TracebackType

from sociallab.errors import BadRequestError, ConfigurationError

MAX_PATH_LENGTH = 1024
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600  # S3 SigV4's limit; the lowest of the three backends

# What Supabase Storage accepts in an object key (its `isValidKey`), minus `?` and `%`, which
# would be read as URL syntax along the way. One rule for every backend keeps them interchangeable.
_PATH_CHARS = re.compile(r"^[A-Za-z0-9_!\-.*'() &$@=;:+,/]+$")
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;[ -~]*)?$")


def check_path(path: str) -> str:
    """Return `path` if it is a safe object key, else raise.

    A key is relative (`club/2025/photo.jpg`): no leading `/`, no `.` or `..` segment, no empty
    segment, no backslash, NUL or other control character, at most 1024 characters of
    `A-Z a-z 0-9 _ ! - . * ' ( ) space & $ @ = ; : + , /`.

    Raises:
        BadRequestError: the path is not a safe object key.
    """
    if not isinstance(path, str) or not path:
        raise BadRequestError("A storage path must be a non-empty string.")
    if len(path) > MAX_PATH_LENGTH:
        raise BadRequestError(f"A storage path must be at most {MAX_PATH_LENGTH} characters.")
    if "\x00" in path or "\\" in path:
        raise BadRequestError("A storage path must not contain NUL or backslashes.")
    if path.startswith("/"):
        raise BadRequestError("A storage path must be relative (no leading '/').")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise BadRequestError("A storage path must not contain empty, '.' or '..' segments.")
    if not _PATH_CHARS.match(path):
        raise BadRequestError("A storage path contains characters that are not allowed.")
    return path


def check_bucket(bucket: str) -> str:
    """Return `bucket` if it is a usable bucket name.

    Raises:
        ConfigurationError: names STORAGE_BUCKET.
    """
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigurationError(
            "STORAGE_BUCKET must be 1-63 characters of A-Z a-z 0-9 _ . - starting with a letter or digit."
        )
    return bucket


def check_content_type(content_type: str) -> str:
    """Return `content_type` if it looks like a MIME type (`type/subtype[; params]`).

    Raises:
        BadRequestError: not a MIME type, or it contains control characters.
    """
    if not _CONTENT_TYPE.match(content_type):
        raise BadRequestError("The content type is not a valid MIME type.")
    return content_type


def check_expires_in(expires_in: int) -> int:
    """Return `expires_in` if it is a whole number of seconds in 1..7 days.

    Raises:
        ValueError: out of range (a programming error, not a client's).
    """
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise ValueError("expires_in must be an int (seconds)")
    if not 1 <= expires_in <= MAX_SIGNED_URL_SECONDS:
        raise ValueError(f"expires_in must be between 1 and {MAX_SIGNED_URL_SECONDS} seconds")
    return expires_in


class Storage(ABC):
    """An async object store for one bucket.

    Every method validates its path first (`check_path`) and raises `BadRequestError` for a bad
    one. Backends raise `DependencyUnavailableError` when the store cannot be reached and
    `ConfigurationError` when it refuses our credentials or the bucket does not exist.
    """

    backend: str = ""

    def __init__(self, bucket: str) -> None:
        """Raises `ConfigurationError` for a bad bucket name."""
        self.bucket = check_bucket(bucket)

    async def put(self, path: str, data: bytes, content_type: str) -> None:
        """Store `data` at `path`, replacing any object there.

        Raises:
            BadRequestError: bad path or content type.
            DependencyUnavailableError, ConfigurationError: see the class docstring.
        """
        await self._put(check_path(path), bytes(data), check_content_type(content_type))

    async def get(self, path: str) -> bytes:
        """The bytes stored at `path`.

        Raises:
            NotFoundError: nothing is stored there.
            BadRequestError: bad path.
            DependencyUnavailableError, ConfigurationError: see the class docstring.
        """
        return await self._get(check_path(path))

    async def delete(self, path: str) -> None:
        """Delete the object at `path`; deleting a missing object is not an error.

        Raises:
            BadRequestError: bad path.
            DependencyUnavailableError, ConfigurationError: see the class docstring.
        """
        await self._delete(check_path(path))

    async def exists(self, path: str) -> bool:
        """Whether an object is stored at `path`.

        Raises:
            BadRequestError: bad path.
            DependencyUnavailableError, ConfigurationError: see the class docstring.
        """
        return await self._exists(check_path(path))

    async def signed_url(self, path: str, expires_in: int) -> str:
        """An absolute URL anyone can GET for `expires_in` seconds (1 s to 7 days).

        Instagram fetches images through these; never log the full URL (it is a credential).

        Raises:
            NotFoundError: nothing is stored at `path`.
            BadRequestError: bad path.
            ValueError: `expires_in` out of range.
            DependencyUnavailableError, ConfigurationError: see the class docstring.
        """
        return await self._signed_url(check_path(path), check_expires_in(expires_in))

    async def aclose(self) -> None:  # noqa: B027  # optional hook, most backends hold nothing
        """Release clients held by the backend; the store may be used again afterwards."""

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abstractmethod
    async def _put(self, path: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    async def _get(self, path: str) -> bytes: ...

    @abstractmethod
    async def _delete(self, path: str) -> None: ...

    @abstractmethod
    async def _exists(self, path: str) -> bool: ...

    @abstractmethod
    async def _signed_url(self, path: str, expires_in: int) -> str: ...
