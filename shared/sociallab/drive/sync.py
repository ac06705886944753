"""Importing photos from connected Drive folders into `media_assets`.

First sync of a source: save `changes.getStartPageToken` BEFORE listing the folder, then import
every image in it; later syncs read `changes.list` from the saved token (keeping only images
whose parents include the folder; removed and trashed files are ignored) and save the next token
after every page, so a crash repeats at most one page (dedupe makes that harmless).

Per file (`import_file`): skipped when the Drive file id is already ready with the same md5, or
the md5 is already an asset of the workspace (no download); otherwise downloaded (`alt=media`,
40 MB cap) and put through intake. A failure is recorded on a `failed` asset row and counted,
never raised: permanent ones (not an image, undecodable, too large, gone) are not tried again
until the file's content (md5) changes; transient ones (Drive 429/5xx, network, storage) are
retried by later syncs, at most `MAX_IMPORT_ATTEMPTS` times in all.

Overlapping syncs of one source (scheduler, push notification, "sync now") are kept apart by a
lease on the source row; the loser skips it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sociallab.content import assets
from sociallab.content.intake import MAX_BYTES
from sociallab.db import Row, get_db, load_queries
from sociallab.drive.client import FOLDER_FIELDS, FOLDER_MIME, DriveClient, DriveError, DriveTransientError
from sociallab.errors import (
    AppError,
    AuthenticationError,
    DependencyUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from sociallab.logging import get_logger, log_context

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

MAX_IMPORT_ATTEMPTS = 3
LEASE_SECONDS = 15 * 60


@dataclass
class SyncResult:
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    sources: int = 0

    def add(self, other: SyncResult) -> None:
        self.imported += other.imported
        self.skipped += other.skipped
        self.failed += other.failed
        self.sources += other.sources

    def as_dict(self) -> dict[str, int]:
        return {"imported": self.imported, "skipped": self.skipped, "failed": self.failed, "sources": self.sources}


def source_view(source: Row) -> dict[str, Any]:
    """The API shape of a source (never its channel token)."""
    return {
        "id": str(source["id"]),
        "workspace_id": str(source["workspace_id"]),
        "folder_id": source["folder_id"],
        "folder_name": source["folder_name"],
        "drive_id": source["drive_id"],
        "status": source["status"],
        "last_synced_at": source["last_synced_at"].isoformat() if source["last_synced_at"] else None,
        "last_error": source["last_error"],
        "created_at": source["created_at"].isoformat(),
    }


async def add_source(drive: DriveClient, *, workspace_id: str, folder_id: str, user_id: str | None) -> Row:
    """Connect a Drive folder after checking the service account can read it.

    Raises:
        UnprocessableError: the folder does not exist, is not shared with the service account,
            is not a folder, or is trashed (the message says which).
        ConflictError: the folder is already connected to this workspace.
        DependencyUnavailableError: Drive is unavailable.
    """
    try:
        folder = await drive.get_file(folder_id, FOLDER_FIELDS)
    except DriveTransientError as exc:
        raise DependencyUnavailableError(exc.message) from None
    except DriveError as exc:
        email = getattr(drive.tokens, "email", "the service account")
        raise UnprocessableError(
            f"The folder cannot be read: share it with {email} (Viewer) and check its id. ({exc.message})",
            details=[{"field": "folder_id", "message": exc.code}],
        ) from None
    if folder.get("mimeType") != FOLDER_MIME:
        raise UnprocessableError(
            "This id is a file, not a folder.", details=[{"field": "folder_id", "message": "not a folder"}]
        )
    if folder.get("trashed"):
        raise UnprocessableError("The folder is in the trash.", details=[{"field": "folder_id", "message": "trashed"}])
    if folder.get("capabilities", {}).get("canListChildren") is False:
        raise UnprocessableError("The service account may not list this folder.")
    row = await get_db().fetch_one(
        QUERIES["insert_source"],
        {
            "workspace_id": workspace_id,
            "folder_id": folder_id,
            "folder_name": str(folder.get("name") or "")[:200] or None,
            "drive_id": folder.get("driveId"),
            "channel_token": secrets.token_urlsafe(32),
            "created_by": user_id,
        },
    )
    assert row is not None
    return row


async def source_for_user(source_id: str, user_id: str) -> Row:
    """A source the user may sync (editor of its workspace).

    Raises:
        NotFoundError: no such source, or not in one of the user's workspaces.
        PermissionDeniedError: the user is only a viewer there.
    """
    row = await get_db().fetch_one(QUERIES["source_with_role"], {"source_id": source_id, "user_id": user_id})
    if row is None:
        raise NotFoundError("No such Drive source.")
    if row["role"] == "viewer":
        raise PermissionDeniedError("This needs the editor role; you are viewer.")
    return row


async def sync_all(drive: DriveClient) -> SyncResult:
    """Sync every active source, one after the other; a failing source does not stop the rest."""
    total = SyncResult()
    for row in await get_db().fetch_all(QUERIES["active_source_ids"]):
        total.add(await sync_source(drive, str(row["id"])))
    return total


async def source_for_notification(channel_id: str | None, channel_token: str | None) -> str:
    """The source a Drive push notification is for, after checking its channel token (constant time).

    Raises:
        AuthenticationError: unknown channel or wrong token.
    """
    if not channel_id or not channel_token:
        raise AuthenticationError("Missing Drive channel headers.")
    row = await get_db().fetch_one(QUERIES["source_by_channel"], {"channel_id": channel_id[:200]})
    expected = (row or {}).get("channel_token") or ""
    if row is None or not expected or not hmac.compare_digest(channel_token.encode(), expected.encode()):
        raise AuthenticationError("Unknown Drive channel or wrong channel token.")
    return str(row["id"])


async def sync_source(drive: DriveClient, source_id: str) -> SyncResult:
    """Import what is new in one source's folder. Never raises for Drive or per-file failures.

    Returns counts with `sources` = 1 when this call did the sync, 0 when another sync held it.
    """
    db = get_db()
    source = await db.fetch_one(QUERIES["claim_source"], {"source_id": source_id, "lease_seconds": LEASE_SECONDS})
    if source is None:
        return SyncResult()
    result = SyncResult(sources=1)
    status, error = "active", None
    with log_context(workspace_id=str(source["workspace_id"]), drive_source_id=source_id):
        try:
            await _sync_claimed(drive, source, result)
        except DriveTransientError as exc:
            error = exc.message
        except DriveError as exc:  # the folder itself is gone or no longer shared
            status, error = "error", exc.message
        except AppError as exc:
            error = exc.message
            log.warning("drive sync failed", extra={"error": exc.code})
        finally:
            await db.execute(
                QUERIES["finish_sync"],
                {"source_id": source_id, "ok": error is None, "status": status, "last_error": error},
            )
        log.info("drive sync", extra=result.as_dict())
    return result


async def _sync_claimed(drive: DriveClient, source: Row, result: SyncResult) -> None:
    source_id, drive_id = str(source["id"]), source["drive_id"]
    # Failures of earlier runs first, so a file failing now waits for the next run.
    retry = await get_db().fetch_all(
        QUERIES["transient_failures"],
        {"source_id": source_id, "workspace_id": source["workspace_id"], "max_attempts": MAX_IMPORT_ATTEMPTS},
    )
    for row in retry:
        try:
            item = await drive.get_file(row["drive_file_id"])
        except DriveError as exc:
            await _fail(source, {"id": row["drive_file_id"]}, exc.message, transient=exc.transient)
            result.failed += 1
            continue
        await _count(result, import_file(drive, source, item, retrying=True))
    token = source["changes_page_token"]
    if token:
        try:
            await _follow_changes(drive, source, token, result)
        except DriveTransientError:
            raise
        except DriveError as exc:  # an expired or invalid page token: list the folder again
            log.warning("drive page token refused; relisting", extra={"error": exc.code})
            token = None
    if not token:
        start = await drive.start_page_token(drive_id=drive_id)
        async for item in drive.list_folder(source["folder_id"], drive_id=drive_id):
            await _count(result, import_file(drive, source, item))
        await get_db().execute(QUERIES["save_page_token"], {"source_id": source_id, "page_token": start})


async def _follow_changes(drive: DriveClient, source: Row, token: str, result: SyncResult) -> None:
    folder_id = source["folder_id"]
    while True:
        page = await drive.list_changes(token, drive_id=source["drive_id"])
        for change in page.changes:
            item = change.get("file")
            if change.get("removed") or not isinstance(item, dict) or item.get("trashed"):
                continue
            if folder_id not in (item.get("parents") or []) or not str(item.get("mimeType", "")).startswith("image/"):
                continue
            await _count(result, import_file(drive, source, item))
        token = page.next_page_token or page.new_start_page_token or token
        await get_db().execute(QUERIES["save_page_token"], {"source_id": str(source["id"]), "page_token": token})
        if not page.next_page_token:
            return


async def _count(result: SyncResult, outcome_awaitable: Any) -> None:
    outcome = await outcome_awaitable
    if outcome == "imported":
        result.imported += 1
    elif outcome == "skipped":
        result.skipped += 1
    else:
        result.failed += 1


async def import_file(drive: DriveClient, source: Row, item: dict[str, Any], *, retrying: bool = False) -> str:
    """Import one Drive file of `source`: "imported", "skipped" or "failed" (recorded). Never raises
    for the file's own problems."""
    workspace_id, file_id = str(source["workspace_id"]), str(item["id"])
    md5 = item.get("md5Checksum")
    db = get_db()
    state = await db.fetch_one(QUERIES["file_state"], {"workspace_id": workspace_id, "drive_file_id": file_id})
    if state is not None and state["md5"] == md5 and md5:
        if state["status"] == "ready":
            return "skipped"
        if state["status"] == "failed" and not retrying:
            if not state["error_transient"] or state["import_attempts"] >= MAX_IMPORT_ATTEMPTS:
                return "skipped"  # a permanent failure: not again until the content changes
    if md5 and await db.fetch_val(QUERIES["ready_md5_exists"], {"workspace_id": workspace_id, "md5": md5}):
        if state is not None and state["status"] == "failed":  # settle it, so it is not retried again
            await _fail(source, item, "The same photo is already in the workspace.", transient=False)
        return "skipped"
    size = int(item["size"]) if str(item.get("size", "")).isdigit() else None
    if size is not None and size > MAX_BYTES:
        return await _fail(source, item, f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.", transient=False)
    try:
        data = await drive.download(file_id, max_bytes=MAX_BYTES)
        ingested = await assets.ingest_image(
            workspace_id=workspace_id,
            data=data,
            source="drive",
            filename=item.get("name"),
            drive_source_id=str(source["id"]),
            drive_file_id=file_id,
        )
    except DriveError as exc:
        return await _fail(source, item, exc.message, transient=exc.transient)
    except DependencyUnavailableError as exc:  # storage or database hiccup: worth another try
        return await _fail(source, item, exc.message, transient=True)
    except AppError as exc:  # 413/415/422 from intake: the file itself is the problem
        return await _fail(source, item, exc.message, transient=False)
    return "imported" if ingested.created else "skipped"


async def _fail(source: Row, item: dict[str, Any], error: str, *, transient: bool) -> str:
    log.info("drive file not imported", extra={"drive_file_id": item.get("id"), "transient": transient})
    try:
        await assets.record_drive_failure(
            workspace_id=str(source["workspace_id"]),
            drive_source_id=str(source["id"]),
            drive_file_id=str(item["id"]),
            filename=item.get("name"),
            md5=item.get("md5Checksum"),
            mime_type=item.get("mimeType"),
            size=int(item["size"]) if str(item.get("size", "")).isdigit() else None,
            error=error,
            transient=transient,
        )
    except AppError as exc:
        log.warning("could not record a drive failure", extra={"error": exc.code})
    return "failed"
