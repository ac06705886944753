"""Never throw away the evidence of a publish.

A failed post can hold a media container that did go out: its media_publish answer was lost and its
attempts then ran out, or a run crashed and its account was parked before the container was read again.
Editing what Instagram would receive drops that container (a new one is made at the next publish), so
before an edit does, Instagram is asked about it::

    await settle_old_container(db, client, cipher, post_id=..., workspace_id=..., actor="user:<id>")

PUBLISHED: the post is recorded as published (publish-due's media backfill then finds its media) and
`AlreadyPublishedError` (409) refuses the edit. Anything else (or no container): nothing happens and the
edit may go on. When Instagram cannot be asked, the edit is refused rather than risking a second post.
"""

from __future__ import annotations

from pathlib import Path

from sociallab.crypto import DecryptionError, TokenCipher
from sociallab.db import Database, load_queries
from sociallab.errors import ConflictError, DependencyUnavailableError
from sociallab.instagram.accounts import ReauthRequiredError, usable_token
from sociallab.instagram.client import InstagramClient
from sociallab.instagram.errors import ContainerExpiredError, InstagramError, TokenInvalidError
from sociallab.logging import get_logger
from sociallab.publishing.store import account_row

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))


class AlreadyPublishedError(ConflictError):
    """This post was in fact published on Instagram: it is now marked published and can no longer change."""

    code = "already_published"


async def settle_old_container(
    db: Database, client: InstagramClient, cipher: TokenCipher, *, post_id: str, workspace_id: str, actor: str
) -> None:
    """Make sure a failed post's media container did not go out before it may be dropped.

    Raises:
        AlreadyPublishedError: it went out; the post is now `published`.
        ConflictError: the account must be reconnected before Instagram can be asked.
        DependencyUnavailableError: Instagram could not be asked just now.
    """
    row = await db.fetch_one(QUERIES["old_container"], {"post_id": post_id, "workspace_id": workspace_id})
    if row is None:
        return
    who = f"@{row['username']}" if row["username"] else "the Instagram account"
    reconnect = ConflictError(
        f"Reconnect {who} first: Instagram must confirm whether this post already went out before it can change."
    )
    try:
        status = await client.container_status(row["container_id"], usable_token(account_row(row), cipher=cipher))
    except ContainerExpiredError:
        return  # gone without being published
    except (ReauthRequiredError, TokenInvalidError):
        raise reconnect from None
    except (InstagramError, DecryptionError):
        raise DependencyUnavailableError(
            "Instagram could not confirm whether this post already went out; try again in a moment."
        ) from None
    if status != "PUBLISHED":
        return
    recorded = await db.fetch_one(
        QUERIES["record_published"],
        {"post_id": post_id, "workspace_id": workspace_id, "container_id": row["container_id"], "actor": actor},
    )
    log.warning(
        "a failed post had gone out; recorded as published", extra={"post_id": post_id, "recorded": bool(recorded)}
    )
    raise AlreadyPublishedError()
