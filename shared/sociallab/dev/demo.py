"""Demo content for `make run`: built-in templates, the sandbox Instagram account, sample photos,
and generated posts (one of them scheduled a minute ahead, so the local cron publishes it).

Everything is idempotent: photos dedupe by md5, posts by their `dedupe_key`, the account by its
Instagram user id. A second `make run` adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sociallab.config import get_settings
from sociallab.content.assets import ingest_image
from sociallab.content.captions import CaptionWriter
from sociallab.content.generate import GenerateBody, Generator
from sociallab.content.templates import sync_builtin_templates
from sociallab.db import Database
from sociallab.dev.photos import match_photo
from sociallab.dev.sandboxes import DEMO_IG_USER_ID, DEMO_IG_USERNAME
from sociallab.dev.seed import DEMO_FINISHED_MATCH_ID, DEMO_MATCH_ID, DEMO_USER_ID, DEMO_WORKSPACE_ID
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
            workspace_id=DEMO_WORKSPACE_ID,
            data=data,
            source="upload",
            filename=name,
            tags=["demo"],
            match_id=_match_of(index),
            storage=storage,
        )
        if result.created:
            made.append(f"photo {name}")
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
