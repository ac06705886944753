"""Connecting Drive folders (`drive_sources`), with proof that the workspace controls the folder.

The service account that reads the folders is shared by every workspace, so "the service account
can read it" proves nothing about who is asking: anyone who learns a folder id could connect
another club's folder. A folder is therefore connected in two steps:

1. `add_source` checks the folder is readable and makes a `pending` source whose
   `verification_name` holds a random per-source secret (`sociallab-verify-<32 hex>`). Only the
   workspace's members see it. Nothing about the folder (not even its name) is returned yet.
2. Someone who can add to the folder creates a folder or file with exactly that name in it (Drive:
   New -> Folder). `verify_source` finds it with `files.list` (`'<folder>' in parents and
   name = '<name>' and trashed = false`) and only then makes the source `active`. The proof may
   be deleted afterwards; a verified source stays verified.

Pending sources are never synced (`sync.claim_source` requires `verified_at`), and users cannot
insert or activate sources through the database API (migration 011), only through these calls.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from sociallab.db import Database, Row, load_queries
from sociallab.drive.client import FOLDER_FIELDS, FOLDER_MIME, DriveClient, DriveError, DriveTransientError
from sociallab.errors import (
    AuthenticationError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


class VerificationPendingError(ConflictError):
    """The Drive folder has not been verified yet."""

    code = "verification_pending"


def proof_instructions(name: str) -> str:
    return (
        f"In the Drive folder, create a folder (or any file) named exactly {name}, then verify. "
        "It proves this workspace controls the folder; you may delete it once the folder is connected."
    )


def source_view(source: Row) -> dict[str, Any]:
    """The API shape of a source (never its channel token); a pending one says how to prove access."""
    pending = source["verified_at"] is None
    return {
        "id": str(source["id"]),
        "workspace_id": str(source["workspace_id"]),
        "folder_id": source["folder_id"],
        "folder_name": source["folder_name"],
        "drive_id": source["drive_id"],
        "status": source["status"],
        "verified_at": source["verified_at"].isoformat() if source["verified_at"] else None,
        "verification": (
            {"file_name": source["verification_name"], "instructions": proof_instructions(source["verification_name"])}
            if pending
            else None
        ),
        "last_synced_at": source["last_synced_at"].isoformat() if source["last_synced_at"] else None,
        "last_error": source["last_error"],
        "created_at": source["created_at"].isoformat(),
    }


async def add_source(
    db: Database, drive: DriveClient, *, workspace_id: str, folder_id: str, user_id: str | None
) -> tuple[Row, bool]:
    """A pending source for the folder, and whether it is new (False: the one already waiting).

    Raises:
        UnprocessableError: the folder does not exist, is not shared with the service account,
            is not a folder, or is trashed (the message says which).
        ConflictError: the folder is already connected (verified) to this workspace.
        DependencyUnavailableError: Drive is unavailable.
    """
    params = {"workspace_id": workspace_id, "folder_id": folder_id}
    existing = await db.fetch_one(QUERIES["source_in_workspace"], params)
    if existing is None:
        await readable_folder(drive, folder_id)
        created = await db.fetch_one(
            QUERIES["insert_source"],
            params | {"channel_token": secrets.token_urlsafe(32), "created_by": user_id},
        )
        if created is not None:
            return created, True
        existing = await db.fetch_one(QUERIES["source_in_workspace"], params)  # connected concurrently
        assert existing is not None
    if existing["verified_at"] is not None:
        raise ConflictError("This folder is already connected to this workspace.")
    return existing, False


async def verify_source(db: Database, drive: DriveClient, source: Row) -> Row:
    """Activate a pending source once its verification file is in the folder (a verified one is returned).

    Raises:
        VerificationPendingError: the file is not (yet) in the folder (the message names it).
        UnprocessableError: the folder can no longer be read.
        DependencyUnavailableError: Drive is unavailable.
    """
    if source["verified_at"] is not None:
        return source
    folder = await readable_folder(drive, source["folder_id"])
    name = source["verification_name"]
    try:
        found = await drive.find_in_folder(source["folder_id"], name, drive_id=folder.get("driveId"))
    except DriveTransientError as exc:
        raise DependencyUnavailableError(exc.message) from None
    except DriveError as exc:
        raise UnprocessableError(f"The folder cannot be searched: {exc.message}") from None
    if not found:
        raise VerificationPendingError(f"Nothing named {name} is in the Drive folder yet. {proof_instructions(name)}")
    params = {
        "source_id": str(source["id"]),
        "folder_name": str(folder.get("name") or "")[:200] or None,
        "drive_id": folder.get("driveId"),
    }
    row = await db.fetch_one(QUERIES["mark_verified"], params)
    if row is None:  # verified concurrently
        row = await db.fetch_one(QUERIES["source_by_id"], params)
    if row is None:
        raise NotFoundError("No such Drive source.")
    return row


def require_verified(source: Row) -> None:
    """Raises `VerificationPendingError` (naming the file to create) for a source still pending."""
    if source["verified_at"] is None:
        name = source["verification_name"]
        raise VerificationPendingError(f"This Drive folder is not verified yet. {proof_instructions(name)}")


async def readable_folder(drive: DriveClient, folder_id: str) -> dict[str, Any]:
    """The folder's metadata, after checking the service account can list it.

    Raises:
        UnprocessableError: missing, not shared, not a folder, trashed, or not listable.
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
    return folder


async def source_for_user(db: Database, source_id: str, user_id: str) -> Row:
    """A source the user may manage or sync (editor of its workspace).

    Raises:
        NotFoundError: no such source, or not in one of the user's workspaces.
        PermissionDeniedError: the user is only a viewer there.
    """
    row = await db.fetch_one(QUERIES["source_with_role"], {"source_id": source_id, "user_id": user_id})
    if row is None:
        raise NotFoundError("No such Drive source.")
    if row["role"] == "viewer":
        raise PermissionDeniedError("This needs the editor role; you are viewer.")
    return row


async def source_for_notification(db: Database, channel_id: str | None, channel_token: str | None) -> str:
    """The source a Drive push notification is for, after checking its channel token (constant time).

    Raises:
        AuthenticationError: unknown channel or wrong token.
    """
    if not channel_id or not channel_token:
        raise AuthenticationError("Missing Drive channel headers.")
    row = await db.fetch_one(QUERIES["source_by_channel"], {"channel_id": channel_id[:200]})
    expected = (row or {}).get("channel_token") or ""
    if row is None or not expected or not hmac.compare_digest(channel_token.encode(), expected.encode()):
        raise AuthenticationError("Unknown Drive channel or wrong channel token.")
    return str(row["id"])
