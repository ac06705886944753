"""The image store: one async interface, three backends chosen by `STORAGE_BACKEND`.

    storage = get_storage()
    await storage.put("ws-1/photo.jpg", data, "image/jpeg")
    url = await storage.signed_url("ws-1/photo.jpg", expires_in=6 * 3600)

- `local`: files under `STORAGE_LOCAL_DIR/<bucket>/`, signed URLs served by the dev server
  (`sociallab.storage.local.local_storage_app`, mounted at `/storage`).
- `supabase`: Supabase Storage through storage3's async client.
- `s3`: any S3-compatible store through boto3 (`S3_ENDPOINT_URL`, AWS_* credentials).

Importing this package imports neither boto3 nor storage3; backends load them when constructed.
"""

from __future__ import annotations

from sociallab.config import Settings, get_settings
from sociallab.storage.base import (
    MAX_SIGNED_URL_SECONDS,
    Storage,
    check_bucket,
    check_content_type,
    check_path,
)

__all__ = [
    "MAX_SIGNED_URL_SECONDS",
    "Storage",
    "check_bucket",
    "check_content_type",
    "check_path",
    "close_storage",
    "create_storage",
    "get_storage",
]

_storage: Storage | None = None


def create_storage(settings: Settings) -> Storage:
    """A new store for `settings.storage_backend`.

    Raises:
        ConfigurationError: a setting the backend needs is missing or invalid (named).
    """
    if settings.storage_backend == "supabase":
        from sociallab.storage.supabase import SupabaseStorage

        return SupabaseStorage.from_settings(settings)
    if settings.storage_backend == "s3":
        from sociallab.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from sociallab.storage.local import LocalStorage

    return LocalStorage.from_settings(settings)


def get_storage(settings: Settings | None = None) -> Storage:
    """The store for `settings`; without settings, the process-wide one, created on first use.

    Raises:
        ConfigurationError: a setting the backend needs is missing or invalid (named).
    """
    if settings is not None:
        return create_storage(settings)
    global _storage
    if _storage is None:
        _storage = create_storage(get_settings())
    return _storage


async def close_storage() -> None:
    """Close and forget the process-wide store (server shutdown, end of a test)."""
    global _storage
    storage, _storage = _storage, None
    if storage is not None:
        await storage.aclose()
