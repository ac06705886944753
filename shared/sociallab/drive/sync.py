"""Importing photos from connected, verified Drive folders into `media_assets` (see `sources` for
how a folder gets connected; a pending source is never synced).

First sync of a source: save `changes.getStartPageToken` BEFORE listing the folder, then import
every image in it; later syncs read `changes.list` from the saved token (keeping only images
whose parents include the folder; removed and trashed files are ignored) and save the next token
after every page, so a crash repeats at most one page (dedupe makes that harmless).

Per file (`import_file`): skipped when the Drive file's current version has the same md5, or
the md5 is already an asset of the workspace (no download); otherwise downloaded (`alt=media`,
40 MB cap) and put through intake. Changed content becomes a new asset version (the one before
stays as it is while a post uses it; see `content.assets`). A failure is recorded on a `failed`
row beside the current version and counted, never raised: permanent ones (not an image,
undecodable, too large, gone) are not tried again until the file's content (md5) changes; a
rename or another metadata change does not count. Transient ones (Drive 429/5xx, network,
storage) are retried by later syncs, at most `MAX_IMPORT_ATTEMPTS` times per content. Each
download is counted as an attempt before it starts, so a file that kills the instance (memory)
stops being tried after that many runs instead of taking every later run, and every other
workspace's sync behind it, down. A sync ends by deleting the workspace's old versions that
nothing uses any more.

Overlapping syncs of one source (scheduler, push notification, "sync now") are kept apart by a
lease on the source row; the loser skips it.

    result = await sync_all(db, drive, storage=storage)               # every active source
    result = await sync_source(db, drive, source_id, storage=storage)  # one (SyncResult: the response body)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from sociallab.content import assets
from sociallab.db import Database, Row, load_queries
from sociallab.drive.client import DriveClient, DriveError, DriveTransientError
from sociallab.errors import AppError, DependencyUnavailableError
from sociallab.logging import get_logger, log_context
from sociallab.storage import Storage

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

MAX_IMPORT_ATTEMPTS = 3
INTERRUPTED = "The import did not finish (the instance stopped while importing this file)."
LEASE_SECONDS = 15 * 60


class SyncResult(BaseModel):
    """What a sync did (API.md `{imported, skipped, failed, sources}`): drive-sync's response body as it is."""

    # Every field is always in the response (the defaults are the counts of a sync that did nothing).
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    imported: int = 0
    skipped: int = 0
    failed: int = 0
    sources: int = 0

    def add(self, other: SyncResult) -> None:
        self.imported += other.imported
        self.skipped += other.skipped
        self.failed += other.failed
        self.sources += other.sources


@dataclass(frozen=True)
class _Importer:
    """What one sync works with."""

    db: Database
    drive: DriveClient
    storage: Storage


async def sync_all(db: Database, drive: DriveClient, *, storage: Storage) -> SyncResult:
    """Sync every active source, one after the other; a failing source does not stop the rest.

    Raises:
        DependencyUnavailableError: the database is unreachable.
    """
    total = SyncResult()
    for row in await db.fetch_all(QUERIES["active_source_ids"]):
        total.add(await sync_source(db, drive, str(row["id"]), storage=storage))
    return total


async def sync_source(db: Database, drive: DriveClient, source_id: str, *, storage: Storage) -> SyncResult:
    """Import what is new in one source's folder. Never raises for Drive or per-file failures.

    Returns counts with `sources` = 1 when this call did the sync, 0 when another sync held it.

    Raises:
        DependencyUnavailableError: the database is unreachable when claiming or finishing the sync.
    """
    importer = _Importer(db, drive, storage)
    source = await db.fetch_one(QUERIES["claim_source"], {"source_id": source_id, "lease_seconds": LEASE_SECONDS})
    if source is None:
        return SyncResult()
    result = SyncResult(sources=1)
    status, error = "active", None
    with log_context(workspace_id=str(source["workspace_id"]), drive_source_id=source_id):
        try:
            await _sync_claimed(importer, source, result)
            await assets.prune_superseded(db, str(source["workspace_id"]), storage=storage)
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
        log.info("drive sync", extra=result.model_dump())
    return result


async def _sync_claimed(importer: _Importer, source: Row, result: SyncResult) -> None:
    drive = importer.drive
    source_id, drive_id = str(source["id"]), source["drive_id"]
    # Failures of earlier runs first, so a file failing now waits for the next run.
    retry = await importer.db.fetch_all(
        QUERIES["transient_failures"],
        {"source_id": source_id, "workspace_id": source["workspace_id"], "max_attempts": MAX_IMPORT_ATTEMPTS},
    )
    for row in retry:
        try:
            item = await drive.get_file(row["drive_file_id"])
        except DriveError as exc:
            await _fail(importer.db, source, {"id": row["drive_file_id"]}, exc.message, transient=exc.transient)
            result.failed += 1
            continue
        await _count(result, import_file(importer, source, item, retrying=True))
    token = source["changes_page_token"]
    if token:
        try:
            await _follow_changes(importer, source, token, result)
        except DriveTransientError:
            raise
        except DriveError as exc:  # an expired or invalid page token: list the folder again
            log.warning("drive page token refused; relisting", extra={"error": exc.code})
            token = None
    if not token:
        start = await drive.start_page_token(drive_id=drive_id)
        async for item in drive.list_folder(source["folder_id"], drive_id=drive_id):
            await _count(result, import_file(importer, source, item))
        await importer.db.execute(QUERIES["save_page_token"], {"source_id": source_id, "page_token": start})


async def _follow_changes(importer: _Importer, source: Row, token: str, result: SyncResult) -> None:
    folder_id = source["folder_id"]
    while True:
        page = await importer.drive.list_changes(token, drive_id=source["drive_id"])
        for change in page.changes:
            item = change.get("file")
            if change.get("removed") or not isinstance(item, dict) or item.get("trashed"):
                continue
            if folder_id not in (item.get("parents") or []) or not str(item.get("mimeType", "")).startswith("image/"):
                continue
            await _count(result, import_file(importer, source, item))
        token = page.next_page_token or page.new_start_page_token or token
        await importer.db.execute(QUERIES["save_page_token"], {"source_id": str(source["id"]), "page_token": token})
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


async def import_file(importer: _Importer, source: Row, item: dict[str, Any], *, retrying: bool = False) -> str:
    """Import one Drive file of `source`: "imported", "skipped" or "failed" (recorded). Never raises
    for the file's own problems."""
    workspace_id, file_id = str(source["workspace_id"]), str(item["id"])
    md5 = item.get("md5Checksum")
    db = importer.db
    rows = await db.fetch_all(QUERIES["file_state"], {"workspace_id": workspace_id, "drive_file_id": file_id})
    ready = next((r for r in rows if r["status"] == "ready"), None)
    failed = next((r for r in rows if r["status"] == "failed"), None)
    if md5 and ready is not None and ready["md5"] == md5:
        if failed is not None:  # the file went back to the content we have
            await assets.settle_drive_failure(db, workspace_id=workspace_id, drive_file_id=file_id)
        return "skipped"
    if md5 and failed is not None and failed["md5"] == md5 and not retrying:
        if not failed["error_transient"] or failed["import_attempts"] >= MAX_IMPORT_ATTEMPTS:
            return "skipped"  # a permanent failure: not again until the content changes
    if md5 and await db.fetch_val(QUERIES["ready_md5_exists"], {"workspace_id": workspace_id, "md5": md5}):
        if failed is not None:  # settle it, so it is not retried again
            await _fail(db, source, item, "The same photo is already in the workspace.", transient=False)
        return "skipped"
    from sociallab.content.intake import MAX_BYTES  # Pillow: only once a file is to be imported

    size = int(item["size"]) if str(item.get("size", "")).isdigit() else None
    if size is not None and size > MAX_BYTES:
        too_large = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."
        return await _fail(db, source, item, too_large, transient=False)
    # Counted before it starts: a file that kills the instance (memory) leaves this record, so it is
    # retried a bounded number of times instead of taking every later run down with it.
    await _record(db, source, item, INTERRUPTED, transient=True, count_attempt=True)
    try:
        data = await importer.drive.download(file_id, max_bytes=MAX_BYTES)
        ingested = await assets.ingest_image(
            db,
            storage=importer.storage,
            workspace_id=workspace_id,
            data=data,
            source="drive",
            filename=item.get("name"),
            drive_source_id=str(source["id"]),
            drive_file_id=file_id,
        )
    except DriveError as exc:
        return await _fail(db, source, item, exc.message, transient=exc.transient, counted=True)
    except DependencyUnavailableError as exc:  # storage or database hiccup: worth another try
        return await _fail(db, source, item, exc.message, transient=True, counted=True)
    except AppError as exc:  # 413/415/422 from intake: the file itself is the problem
        return await _fail(db, source, item, exc.message, transient=False, counted=True)
    if not ingested.created:  # the same bytes were already a photo: nothing left to retry
        await assets.settle_drive_failure(db, workspace_id=workspace_id, drive_file_id=file_id)
        return "skipped"
    return "imported"


async def _fail(
    db: Database, source: Row, item: dict[str, Any], error: str, *, transient: bool, counted: bool = False
) -> str:
    """Record why the file was not imported; `counted`: its attempt was recorded when it started."""
    log.info("drive file not imported", extra={"drive_file_id": item.get("id"), "transient": transient})
    await _record(db, source, item, error, transient=transient, count_attempt=not counted)
    return "failed"


async def _record(
    db: Database, source: Row, item: dict[str, Any], error: str, *, transient: bool, count_attempt: bool
) -> None:
    try:
        await assets.record_drive_failure(
            db,
            workspace_id=str(source["workspace_id"]),
            drive_source_id=str(source["id"]),
            drive_file_id=str(item["id"]),
            filename=item.get("name"),
            md5=item.get("md5Checksum"),
            mime_type=item.get("mimeType"),
            size=int(item["size"]) if str(item.get("size", "")).isdigit() else None,
            error=error,
            transient=transient,
            count_attempt=count_attempt,
        )
    except AppError as exc:
        log.warning("could not record a drive failure", extra={"error": exc.code})
