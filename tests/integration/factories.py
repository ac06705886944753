"""Rows for integration tests, inserted as the privileged role (no RLS).

Every helper takes an open transaction and returns the inserted row as a dict (ids are `uuid.UUID`);
keyword overrides set any other column::

    async with db.transaction() as tx:
        user = await create_user(tx)
        ws = await create_workspace(tx)
        await add_member(tx, ws["id"], user["id"], "editor")
        account = await create_instagram_account(tx, ws["id"])
        post = await create_post(tx, ws["id"], status="scheduled", instagram_account_id=account["id"])

`create_post` fills in what its status requires (a scheduled time, a lease, a media id, a reason),
so a test only names what it cares about. `seed_workspace` puts one row in every workspace-scoped
table, for tests that need a whole tenant.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from psycopg import sql
from psycopg.types.json import Jsonb

from sociallab.db import Row, Tx

Role = Literal["owner", "editor", "viewer"]
PostStatus = Literal["draft", "pending_approval", "scheduled", "publishing", "published", "failed", "cancelled"]
Id = uuid.UUID | str


def _now() -> datetime:
    return datetime.now(UTC)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _jsonb(value: Any) -> Any:
    """Dicts go to jsonb; lists stay SQL arrays (wrap a jsonb array in `Jsonb` yourself)."""
    return Jsonb(value) if isinstance(value, dict) else value


async def insert(tx: Tx, table: str, values: Mapping[str, Any], *, schema: str = "public") -> Row:
    """INSERT one row into `schema.table` and return it (all columns)."""
    columns = list(values)
    query = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING *").format(
        table=sql.Identifier(schema, table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(map(sql.Placeholder, columns)),
    )
    # Tx is typed for literal SQL to keep f-strings out of the code base; a Composed built from
    # identifiers is the safe way to name a table that varies.
    row = await tx.fetch_one(query, {k: _jsonb(v) for k, v in values.items()})  # type: ignore[arg-type]
    assert row is not None
    return row


async def create_user(tx: Tx, *, email: str | None = None, **overrides: Any) -> Row:
    """A Supabase Auth user (auth.users)."""
    return await insert(tx, "users", {"email": email or f"{_unique('user')}@example.com", **overrides}, schema="auth")


async def create_workspace(tx: Tx, *, name: str = "Test FC", timezone: str = "Europe/Madrid", **overrides: Any) -> Row:
    return await insert(tx, "workspaces", {"name": name, "timezone": timezone, **overrides})


async def add_member(tx: Tx, workspace_id: Id, user_id: Id, role: Role = "editor") -> Row:
    return await insert(tx, "workspace_members", {"workspace_id": workspace_id, "user_id": user_id, "role": role})


async def create_member(tx: Tx, workspace_id: Id, role: Role = "editor") -> Row:
    """A new user who is a member of the workspace; returns the auth.users row."""
    user = await create_user(tx)
    await add_member(tx, workspace_id, user["id"], role)
    return user


async def create_instagram_account(tx: Tx, workspace_id: Id, **overrides: Any) -> Row:
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "ig_user_id": _unique("17841"),
        "username": _unique("club_"),
        "token_ciphertext": b"\x00not-a-real-ciphertext",
        "token_key_id": "k1",
        "token_expires_at": _now() + timedelta(days=50),
        "token_refreshed_at": _now() - timedelta(days=10),
        "scopes": ["instagram_business_basic", "instagram_business_content_publish"],
    }
    return await insert(tx, "instagram_accounts", {**values, **overrides})


async def create_drive_source(tx: Tx, workspace_id: Id, **overrides: Any) -> Row:
    """A verified, active source (`status="pending", verified_at=None` for one waiting for its proof)."""
    values = {
        "workspace_id": workspace_id,
        "folder_id": _unique("folder"),
        "folder_name": "Match photos",
        "status": "active",
        "verified_at": _now(),
    }
    return await insert(tx, "drive_sources", {**values, **overrides})


async def create_match(tx: Tx, workspace_id: Id, **overrides: Any) -> Row:
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "opponent": "Rivertown United",
        "kickoff_at": _now() + timedelta(days=3),
        "venue": "Home Ground",
        "competition": "League",
        "is_home": True,
    }
    if overrides.get("status") == "finished":
        values |= {"home_score": 2, "away_score": 1}
    return await insert(tx, "matches", {**values, **overrides})


async def create_asset(tx: Tx, workspace_id: Id, **overrides: Any) -> Row:
    """A ready photo (source `upload` unless overridden; `drive` gets a drive_file_id)."""
    asset_id = overrides.pop("id", None) or uuid.uuid4()
    values: dict[str, Any] = {
        "id": asset_id,
        "workspace_id": workspace_id,
        "source": "upload",
        "md5": hashlib.md5(str(asset_id).encode(), usedforsecurity=False).hexdigest(),
        "mime_type": "image/jpeg",
        "bytes": 123_456,
        "original_path": f"{workspace_id}/original/{asset_id}.jpg",
        "normalized_path": f"{workspace_id}/normalized/{asset_id}.jpg",
        "width": 1440,
        "height": 1800,
    }
    if overrides.get("source") == "drive":
        values["drive_file_id"] = _unique("drivefile")
    return await insert(tx, "media_assets", {**values, **overrides})


async def create_template(tx: Tx, workspace_id: Id | None, **overrides: Any) -> Row:
    """A template; `workspace_id=None` makes a built-in."""
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "key": _unique("tpl-"),
        "content_type": "match_result",
        "format": "feed_4x5",
        "spec": {"layers": []},
        "caption_template": "{home} {home_score}-{away_score} {away}",
    }
    return await insert(tx, "templates", {**values, **overrides})


def _post_defaults(status: str) -> dict[str, Any]:
    """What the post's status requires (see the CHECKs on posts)."""
    now = _now()
    if status == "scheduled":
        return {"scheduled_at": now + timedelta(hours=1)}
    if status == "publishing":
        return {
            "scheduled_at": now - timedelta(minutes=1),
            "lease_expires_at": now + timedelta(minutes=5),
            "lease_owner": "test",
            "attempts": 1,
        }
    if status == "published":
        return {
            "scheduled_at": now - timedelta(hours=1),
            "published_at": now,
            "attempts": 1,
            "ig_media_id": _unique("1790"),
            "permalink": "https://www.instagram.com/p/test/",
        }
    if status == "failed":
        return {
            "scheduled_at": now - timedelta(hours=1),
            "attempts": 5,
            "failure_reason": "attempts_exhausted",
            "last_error": "test failure",
        }
    return {}


async def create_post(
    tx: Tx,
    workspace_id: Id,
    *,
    status: PostStatus = "draft",
    instagram_account_id: Id | None = None,
    **overrides: Any,
) -> Row:
    """A post; statuses past approval need an account (one is created when not given)."""
    if instagram_account_id is None and status not in ("draft", "pending_approval", "cancelled"):
        instagram_account_id = (await create_instagram_account(tx, workspace_id))["id"]
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "instagram_account_id": instagram_account_id,
        "status": status,
        "media_type": "IMAGE",
        "caption": "Full time! What a match.",
        "hashtags": ["#matchday"],
        **_post_defaults(status),
    }
    return await insert(tx, "posts", {**values, **overrides})


async def add_post_media(tx: Tx, post: Row, *, position: int = 0, asset_id: Id | None = None, **overrides: Any) -> Row:
    values: dict[str, Any] = {
        "post_id": post["id"],
        "workspace_id": post["workspace_id"],
        "position": position,
        "asset_id": asset_id,
        "storage_path": f"{post['workspace_id']}/posts/{post['id']}/{position}.jpg",
        "width": 1080,
        "height": 1350,
    }
    return await insert(tx, "post_media", {**values, **overrides})


async def add_post_event(tx: Tx, post: Row, *, kind: str = "status", **overrides: Any) -> Row:
    values: dict[str, Any] = {
        "post_id": post["id"],
        "workspace_id": post["workspace_id"],
        "kind": kind,
        "to_status": post["status"],
        "actor": "test",
        "detail": {},
    }
    return await insert(tx, "post_events", {**values, **overrides})


async def create_notification(tx: Tx, workspace_id: Id, **overrides: Any) -> Row:
    values = {"workspace_id": workspace_id, "kind": "instagram.reauth_required", "message": "Reconnect Instagram."}
    return await insert(tx, "notifications", {**values, **overrides})


@dataclass(frozen=True)
class SeededWorkspace:
    """A workspace with one row in every workspace-scoped table, and one user per role."""

    workspace: Row
    owner: Row
    editor: Row
    viewer: Row
    account: Row
    drive_source: Row
    match: Row
    asset: Row
    template: Row
    post: Row
    published_post: Row

    @property
    def id(self) -> uuid.UUID:
        workspace_id: uuid.UUID = self.workspace["id"]
        return workspace_id


async def seed_workspace(tx: Tx, *, name: str = "Test FC") -> SeededWorkspace:
    workspace = await create_workspace(tx, name=name)
    ws = workspace["id"]
    owner = await create_member(tx, ws, "owner")
    editor = await create_member(tx, ws, "editor")
    viewer = await create_member(tx, ws, "viewer")
    account = await create_instagram_account(tx, ws)
    drive_source = await create_drive_source(tx, ws)
    match = await create_match(tx, ws, status="finished")
    asset = await create_asset(tx, ws, source="drive", drive_source_id=drive_source["id"], match_id=match["id"])
    template = await create_template(tx, ws)
    post = await create_post(
        tx, ws, instagram_account_id=account["id"], match_id=match["id"], template_id=template["id"]
    )
    published = await create_post(tx, ws, status="published", instagram_account_id=account["id"])
    await add_post_media(tx, post, asset_id=asset["id"])
    await add_post_event(tx, post)
    await create_notification(tx, ws)
    await insert(
        tx,
        "account_insights",
        {
            "workspace_id": ws,
            "instagram_account_id": account["id"],
            "metric": "reach",
            "day": _now().date(),
            "value": 1234,
        },
    )
    await insert(
        tx,
        "media_insights",
        {
            "workspace_id": ws,
            "instagram_account_id": account["id"],
            "ig_media_id": published["ig_media_id"],
            "post_id": published["id"],
            "reach": 500,
            "likes": 40,
            "views": 900,
        },
    )
    await insert(
        tx,
        "audience_online_hours",
        {"workspace_id": ws, "instagram_account_id": account["id"], "weekday": 6, "hour": 18, "followers_online": 321},
    )
    await insert(
        tx,
        "oauth_states",
        {
            "nonce": _unique("nonce"),
            "workspace_id": ws,
            "user_id": owner["id"],
            "expires_at": _now() + timedelta(minutes=10),
        },
    )
    await tx.execute(
        "UPDATE public.workspaces SET logo_asset_id = %(asset_id)s WHERE id = %(workspace_id)s",
        {"asset_id": asset["id"], "workspace_id": ws},
    )
    return SeededWorkspace(
        workspace, owner, editor, viewer, account, drive_source, match, asset, template, post, published
    )
