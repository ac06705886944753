"""Demo content for `make run`: built-in templates, the sandbox Instagram account, sample photos,
two months of its insights (`demo_insights`), generated posts (one of them scheduled a minute
ahead, so the local cron publishes it) and the sandbox's demo Drive folder, connected and verified
the way a club does it.

Everything is idempotent: photos dedupe by md5, posts by their `dedupe_key`, the account by its
Instagram user id, the Drive source by its (fixed) folder id. A second `make run` adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from sociallab.config import get_settings
from sociallab.content.assets import ingest_image
from sociallab.content.captions import CaptionWriter
from sociallab.content.generate import GenerateBody, Generator
from sociallab.content.templates import sync_builtin_templates
from sociallab.db import Database
from sociallab.dev.demo_insights import seed_demo_insights
from sociallab.dev.photos import match_photo
from sociallab.dev.sandboxes.start import DEMO_IG_USER_ID, DEMO_IG_USERNAME, Sandboxes
from sociallab.dev.seed import DEMO_FINISHED_MATCH_ID, DEMO_MATCH_ID, DEMO_USER_ID, DEMO_WORKSPACE_ID
from sociallab.drive import sources
from sociallab.drive.client import FOLDER_MIME, DriveClient
from sociallab.errors import ConflictError
from sociallab.instagram.accounts import store_token
from sociallab.logging import get_logger
from sociallab.scheduling.posts import DuplicatePostError
from sociallab.scheduling.times import utcnow
from sociallab.storage import get_storage

log = get_logger(__name__)

SCOPES = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
]
PHOTO_SEEDS = (11, 12, 13, 14)


def demo_photos() -> list[tuple[str, bytes]]:
    return [(f"demo-{seed}.jpg", match_photo(seed)) for seed in PHOTO_SEEDS]


def _match_of(index: int) -> str:
    """The last sample photo is of the upcoming match (its matchday post), the others of the finished one."""
    return DEMO_MATCH_ID if index == len(PHOTO_SEEDS) - 1 else DEMO_FINISHED_MATCH_ID


async def seed_demo_content(db: Database, *, instagram_token: str | None) -> list[str]:
    """Templates, the demo account (when the Instagram sandbox runs), photos and posts; returns what was made."""
    made: list[str] = []
    async with db.transaction() as tx:
        await sync_builtin_templates(tx)
        account_id = None
        if instagram_token:
            stored = await store_token(
                tx,
                workspace_id=DEMO_WORKSPACE_ID,
                ig_user_id=DEMO_IG_USER_ID,
                access_token=instagram_token,
                expires_at=utcnow() + timedelta(days=60),
                scopes=SCOPES,
                profile={"username": DEMO_IG_USERNAME, "name": "Demo FC"},
            )
            account_id = str(stored.id)
    storage = get_storage()
    for index, (name, data) in enumerate(demo_photos()):
        result = await ingest_image(
            db,
            storage=storage,
            workspace_id=DEMO_WORKSPACE_ID,
            data=data,
            source="upload",
            filename=name,
            tags=["demo"],
            match_id=_match_of(index),
        )
        if result.created:
            made.append(f"photo {name}")
    if account_id and await seed_demo_insights(db, account_id=account_id, now=utcnow()):
        made.append("insights history")
    generator = Generator(db=db, storage=storage, captions=CaptionWriter(get_settings()))
    soon = (utcnow() + timedelta(seconds=90)).isoformat()
    posts = [
        ("demo:match_result", "match_result", DEMO_FINISHED_MATCH_ID, "feed_4x5", soon if account_id else None),
        ("demo:matchday", "matchday", DEMO_MATCH_ID, "feed_4x5", None),
        ("demo:matchday_story", "matchday", DEMO_MATCH_ID, "story_9x16", None),
    ]
    for dedupe_key, content_type, match_id, fmt, schedule in posts:
        body = GenerateBody.model_validate(
            {
                "workspace_id": DEMO_WORKSPACE_ID,
                "content_type": content_type,
                "match_id": match_id,
                "format": fmt,
                "instagram_account_id": account_id,
                "schedule": schedule,
            }
        )
        try:
            await generator.generate(body, actor_user_id=DEMO_USER_ID, dedupe_key=dedupe_key, require_photos=False)
            made.append(f"post {dedupe_key}")
        except DuplicatePostError:
            continue
    return made


async def connect_demo_drive_folder(db: Database, sandboxes: Sandboxes) -> bool:
    """Connect the Drive sandbox's demo folder to the demo workspace through the same calls as
    `POST /drive-sync/sources` and `.../verify`, creating the verification file in the folder as a
    club would. Returns whether it was connected now (False: no sandbox, or connected before).

    The dev server does not serve yet, so the Drive client reaches the sandbox in process, at the
    same URLs DRIVE_API_URL and the key's token_uri name.

    Raises:
        AppError: the sandbox or the database refused (a bug in the demo, not a user error).
    """
    if sandboxes.drive is None or sandboxes.drive_folder_id is None:
        return False
    folder = sandboxes.drive_folder_id
    app = Starlette(routes=[Mount("/sandbox/drive", app=sandboxes.drive.app())])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=10.0) as http:
        drive = DriveClient.from_settings(get_settings(), http)
        try:
            source, _ = await sources.add_source(
                db, drive, workspace_id=DEMO_WORKSPACE_ID, folder_id=folder, user_id=DEMO_USER_ID
            )
        except ConflictError:
            return False  # verified on an earlier run
        # What the club does in Drive: New -> Folder, named as the answer says.
        sandboxes.drive.add_file(source["verification_name"], b"", parents=[folder], mime_type=FOLDER_MIME)
        await sources.verify_source(db, drive, source)
    return True
