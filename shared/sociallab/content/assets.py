"""Photos of a workspace (`media_assets`): intake into storage, dedupe, listing, deletion.

    result = await ingest_image(db, storage=storage, workspace_id=ws, data=data, source="upload")
    result.asset        # the media_assets row; result.created is False for a duplicate
    await asset_view(result.asset, storage)  # {id, workspace_id, width, height, taken_at, tags, preview_url}

Storage layout: `workspaces/<ws>/assets/<asset id>/original.<ext>` (the bytes as received) and
`.../normalized.jpg` (the sRGB JPEG every other part reads). Dedupe: the same bytes (md5) in the
same workspace are one asset; a concurrent second upload waits on an advisory lock and gets the
first one's row.

A ready asset never changes: a post approved with a photo publishes exactly those bytes (the
database refuses updates of an asset's content). A changed Drive file becomes a new version: a
new row with a new id and new storage paths, which inherits the tags and match of the version
before; that one is marked `superseded_at`, hidden from the library and from photo picking, and
kept while a post or the workspace logo uses it. Superseded versions nothing uses any more are
deleted with their files (`prune_superseded`, at the end of each Drive sync). Deleting an asset
keeps its files while a post still shows them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from sociallab.db import Database, Row, load_queries
from sociallab.errors import (
    AppError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from sociallab.jsonlimits import load_json
from sociallab.logging import get_logger
from sociallab.storage import Storage

if TYPE_CHECKING:  # intake (Pillow) is loaded by the first photo taken in, not by listing (issue 7)
    from sociallab.content.intake import NormalizedImage

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_name("assets.sql"))

PREVIEW_URL_SECONDS = 3600
MAX_TAGS = 30
MAX_TAG_LENGTH = 50

Source = Literal["upload", "drive"]


@dataclass(frozen=True)
class IngestResult:
    asset: Row
    created: bool  # False: the same bytes were already an asset of this workspace


def asset_paths(workspace_id: str, asset_id: str, extension: str) -> tuple[str, str, str]:
    """(original, normalised JPEG, publishing rendition) paths of an asset in storage."""
    base = f"workspaces/{workspace_id}/assets/{asset_id}"
    return f"{base}/original.{extension}", f"{base}/normalized.jpg", f"{base}/publish.jpg"


def stored_files(asset: Row) -> list[str]:
    """Every file an asset row names in storage."""
    return [p for p in (asset["original_path"], asset["normalized_path"], asset.get("rendition_path")) if p]


def clean_tags(raw: list[str]) -> list[str]:
    """Tags from form values (each may be a comma list): trimmed, lowercased, unique, sorted.

    Raises:
        UnprocessableError: more than 30 tags, or one longer than 50 characters.
    """
    tags = {part.strip().lower() for value in raw for part in value.split(",") if part.strip()}
    if len(tags) > MAX_TAGS:
        raise UnprocessableError(f"At most {MAX_TAGS} tags.")
    if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
        raise UnprocessableError(f"A tag has at most {MAX_TAG_LENGTH} characters.")
    return sorted(tags)


async def ingest_image(
    db: Database,
    *,
    storage: Storage,
    workspace_id: str,
    data: bytes,
    source: Source,
    filename: str | None = None,
    tags: list[str] | None = None,
    match_id: str | None = None,
    uploaded_by: str | None = None,
    drive_source_id: str | None = None,
    drive_file_id: str | None = None,
) -> IngestResult:
    """Normalise `data` and store it as a ready asset, or return the existing asset with the same md5.

    A duplicate gets the new tags added and, if it had no match, `match_id`. With `drive_file_id`,
    the file's current version (if any) is superseded by the new one, which keeps its tags and match.

    Raises:
        NotFoundError: the workspace does not exist.
        UnprocessableError: the match is not one of the workspace's; undecodable image or a bomb.
        UnsupportedMediaTypeError: not JPEG/PNG/WebP/HEIC by content.
        PayloadTooLargeError: over 40 MB.
        DependencyUnavailableError: storage or the database is unreachable.
    """
    tags = tags or []
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    params = {"workspace_id": workspace_id, "match_id": match_id, "md5": md5, "tags": tags}
    async with db.transaction() as tx:
        zone = await tx.fetch_val(QUERIES["workspace_timezone"], params)
        if zone is None:
            raise NotFoundError("No such workspace.")
        if match_id is not None and await tx.fetch_val(QUERIES["match_exists"], params) is None:
            raise UnprocessableError("The match is not one of this workspace's matches.")
        existing = await tx.fetch_one(QUERIES["ready_by_md5"], params)
        if existing is not None:
            return IngestResult(await _merge(tx, existing, tags, match_id), created=False)
    from sociallab.content.intake import process_image

    image = await process_image(data, timezone=zone)
    asset_id = str(uuid.uuid4())  # a new version never reuses the paths of an older one
    original_path, normalized_path, rendition_path = asset_paths(workspace_id, asset_id, image.extension)
    files = [original_path, normalized_path, rendition_path]
    await asyncio.gather(
        storage.put(original_path, data, image.mime_type),
        storage.put(normalized_path, image.normalized, "image/jpeg"),
        storage.put(rendition_path, image.rendition, "image/jpeg"),
    )
    row_params = _row_params(asset_id, workspace_id, source, filename, image, files, tags, match_id) | {
        "uploaded_by": uploaded_by,
        "drive_source_id": drive_source_id,
        "drive_file_id": drive_file_id,
    }
    try:
        async with db.transaction() as tx:
            await tx.execute(QUERIES["lock_md5"], params)
            existing = await tx.fetch_one(QUERIES["ready_by_md5"], params)
            row: Row | None
            if existing is not None:  # the same bytes arrived concurrently
                row = await _merge(tx, existing, tags, match_id)
            else:
                if drive_file_id is not None:
                    row_params |= _inherited(await _supersede(tx, workspace_id, drive_file_id), row_params)
                row = await tx.fetch_one(QUERIES["insert_ready"], row_params)
    except AppError:
        await _remove_objects(storage, files)
        raise
    assert row is not None
    if existing is not None:
        await _remove_objects(storage, files)
        return IngestResult(row, created=False)
    return IngestResult(row, created=True)


async def _supersede(tx: Any, workspace_id: str, drive_file_id: str) -> Row | None:
    """Set the Drive file's current version aside (and settle its failure record); returns that version."""
    keys = {"workspace_id": workspace_id, "drive_file_id": drive_file_id}
    await tx.execute(QUERIES["lock_drive_file"], keys)
    await tx.execute(QUERIES["delete_failure_record"], keys)
    row: Row | None = await tx.fetch_one(QUERIES["supersede_current_version"], keys)
    return row


def _inherited(previous: Row | None, params: dict[str, Any]) -> dict[str, Any]:
    """What a new version keeps of the one before: its tags, its match, its capture time if it has none."""
    if previous is None:
        return {}
    return {
        "tags": sorted(set(previous["tags"]) | set(params["tags"])),
        "match_id": params["match_id"] or previous["match_id"],
        "taken_at": params["taken_at"] or previous["taken_at"],
    }


async def prune_superseded(db: Database, workspace_id: str, *, storage: Storage, limit: int = 50) -> int:
    """Delete old Drive versions of the workspace that no post and not the logo uses, with their files.

    Returns how many went. Storage failures are logged, not raised (the rows are gone either way).

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    params: dict[str, Any] = {"workspace_id": workspace_id, "limit": limit}
    async with db.transaction() as tx:
        ids = [str(r["id"]) for r in await tx.fetch_all(QUERIES["lock_unused_superseded"], params)]
        gone = await tx.fetch_all(QUERIES["delete_unused_superseded"], params | {"ids": ids}) if ids else []
    await _remove_objects(storage, [p for row in gone for p in stored_files(row)])
    return len(gone)


async def _merge(tx: Any, existing: Row, tags: list[str], match_id: str | None) -> Row:
    if not tags and match_id is None:
        return existing
    row = await tx.fetch_one(
        QUERIES["merge_tags"],
        {"id": existing["id"], "workspace_id": existing["workspace_id"], "tags": tags, "match_id": match_id},
    )
    assert row is not None
    return row


def _row_params(
    asset_id: str,
    workspace_id: str,
    source: Source,
    filename: str | None,
    image: NormalizedImage,
    files: list[str],
    tags: list[str],
    match_id: str | None,
) -> dict[str, Any]:
    original_path, normalized_path, rendition_path = files
    return {
        "id": asset_id,
        "workspace_id": workspace_id,
        "source": source,
        "original_filename": (filename or "")[:255] or None,
        "md5": image.md5,
        "mime_type": image.mime_type,
        "bytes": image.size,
        "original_path": original_path,
        "normalized_path": normalized_path,
        "rendition_path": rendition_path,
        "rendition_width": image.rendition_width,
        "rendition_height": image.rendition_height,
        "width": image.width,
        "height": image.height,
        "taken_at": image.taken_at,
        "tags": tags,
        "match_id": match_id,
    }


async def _remove_objects(store: Storage, paths: list[str]) -> None:
    for path in paths:
        try:
            await store.delete(path)
        except AppError as exc:
            log.warning("could not delete a storage object", extra={"path": path, "error": exc.code})


async def asset_view(asset: Row, storage: Storage) -> dict[str, Any]:
    """The API shape of an asset: `{id, workspace_id, width, height, taken_at, tags, match_id, preview_url}`.

    `preview_url` is a signed URL of the normalised JPEG, valid for an hour.

    Raises:
        DependencyUnavailableError, ConfigurationError: storage cannot sign the URL.
    """
    try:
        preview_url: str | None = await storage.signed_url(asset["normalized_path"], PREVIEW_URL_SECONDS)
    except NotFoundError:
        preview_url = None
    return {
        "id": str(asset["id"]),
        "workspace_id": str(asset["workspace_id"]),
        "width": asset["width"],
        "height": asset["height"],
        "taken_at": asset["taken_at"].isoformat() if asset["taken_at"] else None,
        "tags": list(asset["tags"]),
        "match_id": str(asset["match_id"]) if asset["match_id"] else None,
        "preview_url": preview_url,
    }


async def list_assets(
    db: Database, workspace_id: str, *, match_id: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[Row], str | None]:
    """Ready assets of a workspace, newest first, and the cursor of the next page (or None).

    Raises:
        BadRequestError: the cursor is not one this function made.
    """
    after_created, after_id = _read_cursor(cursor) if cursor else (None, None)
    rows = await db.fetch_all(
        QUERIES["list_ready"],
        {
            "workspace_id": workspace_id,
            "match_id": match_id,
            "after_created": after_created,
            "after_id": after_id,
            "limit": limit + 1,
        },
    )
    next_cursor = _make_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _make_cursor(row: Row) -> str:
    raw = json.dumps({"c": row["created_at"].isoformat(), "i": str(row["id"])}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = load_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(raw["c"]), str(uuid.UUID(raw["i"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequestError("The cursor is invalid.") from None


async def get_assets(db: Database, workspace_id: str, asset_ids: list[str]) -> list[Row]:
    """The ready assets of the workspace among `asset_ids`, in the order given (missing ones left out).

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    rows = await db.fetch_all(QUERIES["get_ready_many"], {"workspace_id": workspace_id, "ids": asset_ids})
    by_id = {str(row["id"]): row for row in rows}
    return [by_id[i] for i in map(str, asset_ids) if i in by_id]


async def assets_for_match(
    db: Database, workspace_id: str, match_id: str, kickoff_at: datetime, timezone: str, *, limit: int = 10
) -> list[Row]:
    """Ready photos for a match: those linked to it first, then unlinked ones taken on its local match day.

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    zone = ZoneInfo(timezone)
    day = kickoff_at.astimezone(zone).date()
    day_start = datetime.combine(day, time(0), tzinfo=zone)
    params = {
        "workspace_id": workspace_id,
        "match_id": match_id,
        "day_start": day_start,
        "day_end": day_start + timedelta(days=1),
        "limit": limit,
    }
    return await db.fetch_all(QUERIES["for_match"], params)


async def read_normalized(asset: Row, storage: Storage) -> bytes:
    """The normalised sRGB JPEG of a ready asset.

    Raises:
        NotFoundError: the object is missing from storage.
    """
    return await storage.get(asset["normalized_path"])


async def delete_asset(db: Database, asset_id: str, *, user_id: str, storage: Storage) -> None:
    """Delete an asset, as an editor of its workspace, and its storage objects unless a post uses them.

    Raises:
        NotFoundError: no such asset, or it belongs to a workspace the user is not a member of.
        PermissionDeniedError: the user is only a viewer.
        ConflictError: a scheduled or publishing post uses it.
    """
    async with db.transaction() as tx:
        row = await tx.fetch_one(QUERIES["lock_for_delete"], {"id": asset_id, "user_id": user_id})
        if row is None:
            raise NotFoundError("No such asset.")
        if row["role"] == "viewer":
            raise PermissionDeniedError("This needs the editor role; you are viewer.")
        params = {"id": asset_id, "workspace_id": row["workspace_id"]}
        post = await tx.fetch_one(QUERIES["in_use_by_scheduled_post"], params)
        if post is not None:
            raise ConflictError(f"The photo is used by a {post['status']} post ({post['id']}); cancel it first.")
        keep_files = await tx.fetch_val(QUERIES["used_by_a_post"], params)
        await tx.execute(QUERIES["delete_asset"], params)
    if not keep_files:  # a draft or a published post still shows these files
        await _remove_objects(storage, stored_files(row))


async def record_drive_failure(
    db: Database,
    *,
    workspace_id: str,
    drive_source_id: str,
    drive_file_id: str,
    filename: str | None,
    md5: str | None,
    mime_type: str | None,
    size: int | None,
    error: str,
    transient: bool,
    count_attempt: bool = True,
) -> None:
    """Keep a Drive file that could not be imported as a `failed` asset (attempts counted unless
    `count_attempt` is False: the attempt was recorded when it started).

    The row sits beside the file's current ready version, which a failure never touches.

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    await db.execute(
        QUERIES["record_failure"],
        {
            "workspace_id": workspace_id,
            "drive_source_id": drive_source_id,
            "drive_file_id": drive_file_id,
            "original_filename": (filename or "")[:255] or None,
            "md5": md5 if md5 and len(md5) == 32 else None,
            "mime_type": (mime_type or "")[:100] or None,
            "bytes": size,
            "error": error[:500],
            "transient": transient,
            "count_attempt": count_attempt,
        },
    )


async def settle_drive_failure(db: Database, *, workspace_id: str, drive_file_id: str) -> None:
    """Forget the failure record of a Drive file whose content is imported after all.

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    await db.execute(QUERIES["delete_failure_record"], {"workspace_id": workspace_id, "drive_file_id": drive_file_id})
