"""The schema's promises, checked against a real PostgreSQL: tenant isolation under row level
security, who may write what, secrets that stay secret, the append-only audit, the CHECKs and
the index the publisher's claim depends on.

Rows are seeded as the privileged role (what the functions connect as); each test then switches
its transaction to `authenticated` (a Supabase user) or `anon`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, LiteralString

import pytest
from psycopg import sql

from sociallab.db import Database, Params, Tx
from sociallab.errors import AppError, ConflictError, PermissionDeniedError, UnprocessableError
from tests.integration.factories import (
    SeededWorkspace,
    add_post_event,
    create_drive_source,
    create_instagram_account,
    create_post,
    create_template,
    create_user,
    create_workspace,
    seed_workspace,
)

pytestmark = pytest.mark.integration

# Workspace-scoped tables a member reads through RLS (seed_workspace puts a row in each).
MEMBER_READABLE = {
    "workspaces",
    "workspace_members",
    "instagram_accounts",
    "drive_sources",
    "matches",
    "media_assets",
    "templates",
    "posts",
    "post_media",
    "post_events",
    "account_insights",
    "media_insights",
    "audience_online_hours",
    "notifications",
}
SERVICE_ONLY = {"caption_cache", "usage_counters", "webhook_receipts", "oauth_states"}


@pytest.fixture
async def seeded(db: Database) -> tuple[SeededWorkspace, SeededWorkspace]:
    """Workspaces A and B, fully populated, plus a built-in template and service-only rows."""
    async with db.transaction() as tx:
        a = await seed_workspace(tx, name="A FC")
        b = await seed_workspace(tx, name="B FC")
        await create_template(tx, None, key="builtin-result")
        await tx.execute(
            "INSERT INTO caption_cache (key, model, response) VALUES ('k', 'gemini', '{}');"
            "INSERT INTO usage_counters (scope, key, window_start, count) VALUES ('http', 'u', now(), 1);"
            "INSERT INTO webhook_receipts (source, delivery_key) VALUES ('supabase.matches', 'd1');"
        )
    return a, b


async def _as_user(tx: Tx, user: dict[str, Any]) -> None:
    await tx.act_as_user(str(user["id"]))


async def _as_anon(tx: Tx) -> None:
    await tx.execute("SELECT set_config('role', 'anon', true)")


async def attempt(tx: Tx, query: LiteralString | sql.Composable, params: Params = None) -> int | AppError:
    """Run a statement in a savepoint: the rows it touched, or the error it raised."""
    try:
        async with tx.conn.transaction():
            return await tx.execute(query, params)  # type: ignore[arg-type]  # Composed is accepted
    except AppError as exc:
        return exc


async def _public_tables(tx: Tx) -> list[str]:
    rows = await tx.fetch_all(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        " ORDER BY relname"
    )
    return [r["relname"] for r in rows]


async def _workspace_columns(tx: Tx) -> dict[str, str]:
    """Every table that belongs to a workspace -> the column naming it (found, not listed)."""
    rows = await tx.fetch_all(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
        "   AND a.attname = 'workspace_id' AND NOT a.attisdropped"
    )
    return {"workspaces": "id"} | {r["relname"]: "workspace_id" for r in rows}


async def _visible_workspaces(tx: Tx, table: str, column: str) -> list[uuid.UUID | None] | AppError:
    query = sql.SQL("SELECT {col} AS ws FROM {table}").format(
        col=sql.Identifier(column), table=sql.Identifier("public", table)
    )
    try:
        async with tx.conn.transaction():
            rows = await tx.fetch_all(query)  # type: ignore[arg-type]
    except AppError as exc:
        return exc
    return [r["ws"] for r in rows]


# --- isolation --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
async def test_members_see_their_workspace_and_nothing_of_another(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace], role: str
) -> None:
    a, b = seeded
    async with db.transaction() as tx:
        tables = await _workspace_columns(tx)
        assert MEMBER_READABLE | {"oauth_states"} <= set(tables)
        await _as_user(tx, getattr(a, role))
        for table, column in sorted(tables.items()):
            seen = await _visible_workspaces(tx, table, column)
            if isinstance(seen, AppError):
                assert isinstance(seen, PermissionDeniedError), table
                assert table not in MEMBER_READABLE, f"{role} cannot read {table}"
                continue
            assert b.id not in seen, f"{role} of A sees B's rows in {table}"
            assert set(seen) <= {a.id, None}, table
            if table in MEMBER_READABLE:
                assert a.id in seen, f"{role} of A does not see A's rows in {table}"
        # Built-in templates are shared by everyone.
        keys = await tx.fetch_all("SELECT key FROM templates WHERE workspace_id IS NULL")
        assert [r["key"] for r in keys] == ["builtin-result"]


async def test_a_signed_in_stranger_sees_only_builtin_templates(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    async with db.transaction() as tx:
        stranger = await create_user(tx)
        tables = await _public_tables(tx)
        await _as_user(tx, stranger)
        for table in tables:
            query = sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier("public", table))
            try:
                async with tx.conn.transaction():
                    count = await tx.fetch_val(query)  # type: ignore[arg-type]
            except PermissionDeniedError:
                continue
            assert count == (1 if table == "templates" else 0), table


async def test_anon_has_no_privilege_on_any_table(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    async with db.transaction() as tx:
        granted = await tx.fetch_all(
            "SELECT c.relname FROM pg_class c"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
            "   AND (has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES')"
            "        OR has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))"
        )
        assert granted == []
        assert not await tx.fetch_val(
            "SELECT has_function_privilege('anon', 'public.is_member(uuid, text)', 'EXECUTE')"
            " OR has_function_privilege('anon', 'public.create_workspace(text, text)', 'EXECUTE')"
        )
        tables = await _public_tables(tx)
        await _as_anon(tx)
        for table in tables:
            query = sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier("public", table))
            assert isinstance(await attempt(tx, query), PermissionDeniedError), table
        assert isinstance(await attempt(tx, "SELECT public.create_workspace('Anon FC')"), PermissionDeniedError)


# --- secrets ----------------------------------------------------------------------------------


async def test_authenticated_cannot_read_tokens_or_channel_secrets(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, _ = seeded
    async with db.transaction() as tx:
        await _as_user(tx, a.owner)
        for query in (
            "SELECT token_ciphertext FROM instagram_accounts",
            "SELECT token_key_id FROM instagram_accounts",
            "SELECT * FROM instagram_accounts",
            "SELECT channel_token FROM drive_sources",
        ):
            assert isinstance(await attempt(tx, query), PermissionDeniedError), query
        rows = await tx.fetch_all("SELECT id, username, status, token_expires_at FROM instagram_accounts")
        assert [r["id"] for r in rows] == [a.account["id"]]


@pytest.mark.parametrize("table", sorted(SERVICE_ONLY))
async def test_service_tables_are_closed_to_users(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace], table: str
) -> None:
    a, _ = seeded
    async with db.transaction() as tx:
        assert await tx.fetch_val(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))) >= 1  # type: ignore[arg-type]
        await _as_user(tx, a.owner)
        for statement in ("SELECT * FROM {}", "DELETE FROM {}"):
            query = sql.SQL(statement).format(sql.Identifier("public", table))
            assert isinstance(await attempt(tx, query), PermissionDeniedError)


# --- who may write ----------------------------------------------------------------------------


def _params(ws: SeededWorkspace) -> dict[str, Any]:
    return {
        "ws": ws.id,
        "match": ws.match["id"],
        "post": ws.post["id"],
        "published": ws.published_post["id"],
        "account": ws.account["id"],
        "asset": ws.asset["id"],
        "template": ws.template["id"],
        "source": ws.drive_source["id"],
        "owner": ws.owner["id"],
        "viewer": ws.viewer["id"],
    }


DENIED, NO_ROWS = "denied", "no rows"

# What someone without write access to a workspace gets for each write the frontend could try.
WRITES: list[tuple[LiteralString, str]] = [
    ("INSERT INTO matches (workspace_id, opponent, kickoff_at) VALUES (%(ws)s, 'X', now())", DENIED),
    ("UPDATE matches SET venue = 'Elsewhere' WHERE id = %(match)s", NO_ROWS),
    ("DELETE FROM matches WHERE id = %(match)s", NO_ROWS),
    ("INSERT INTO posts (workspace_id, caption) VALUES (%(ws)s, 'hi')", DENIED),
    ("UPDATE posts SET caption = 'changed' WHERE id = %(post)s", NO_ROWS),
    ("DELETE FROM posts WHERE id = %(post)s", NO_ROWS),
    ("INSERT INTO templates (workspace_id, key, content_type, format) VALUES (%(ws)s, 'k', 'quote', 'square')", DENIED),
    ("UPDATE templates SET name = 'mine' WHERE id = %(template)s", NO_ROWS),
    ("DELETE FROM templates WHERE id = %(template)s", NO_ROWS),
    ("INSERT INTO drive_sources (workspace_id, folder_id) VALUES (%(ws)s, 'f-new')", DENIED),
    ("UPDATE drive_sources SET status = 'paused' WHERE id = %(source)s", NO_ROWS),
    ("DELETE FROM drive_sources WHERE id = %(source)s", NO_ROWS),
    ("UPDATE media_assets SET tags = '{x}' WHERE id = %(asset)s", NO_ROWS),
    ("UPDATE notifications SET read_at = now() WHERE workspace_id = %(ws)s", NO_ROWS),
    ("UPDATE workspaces SET name = 'Renamed' WHERE id = %(ws)s", NO_ROWS),
    ("UPDATE workspace_members SET role = 'owner' WHERE workspace_id = %(ws)s", NO_ROWS),
    ("DELETE FROM workspace_members WHERE user_id = %(owner)s", NO_ROWS),
    # Never writable by users, whatever their role: no privilege at all.
    ("INSERT INTO media_assets (workspace_id, source) VALUES (%(ws)s, 'upload')", DENIED),
    ("DELETE FROM media_assets WHERE id = %(asset)s", DENIED),
    ("UPDATE instagram_accounts SET status = 'active' WHERE id = %(account)s", DENIED),
    ("DELETE FROM instagram_accounts WHERE id = %(account)s", DENIED),
    ("INSERT INTO post_events (post_id, workspace_id, kind) VALUES (%(post)s, %(ws)s, 'x')", DENIED),
    ("UPDATE post_media SET storage_path = 'elsewhere.jpg' WHERE post_id = %(post)s", DENIED),
    ("INSERT INTO workspaces (name) VALUES ('Mine')", DENIED),
]


async def _expect(tx: Tx, query: LiteralString, params: dict[str, Any], expected: str) -> None:
    outcome = await attempt(tx, query, params)
    if expected == DENIED:
        assert isinstance(outcome, PermissionDeniedError), f"{query} -> {outcome!r}"
    else:
        assert outcome == 0, f"{query} -> {outcome!r}"


@pytest.mark.parametrize(("query", "expected"), WRITES, ids=[q[:60] for q, _ in WRITES])
async def test_viewers_cannot_write(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace], query: LiteralString, expected: str
) -> None:
    a, _ = seeded
    async with db.transaction() as tx:
        await _as_user(tx, a.viewer)
        await _expect(tx, query, _params(a), expected)


@pytest.mark.parametrize(("query", "expected"), WRITES, ids=[q[:60] for q, _ in WRITES])
async def test_members_of_one_workspace_cannot_write_another(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace], query: LiteralString, expected: str
) -> None:
    a, b = seeded
    async with db.transaction() as tx:
        await _as_user(tx, a.owner)  # the highest role in A is still nobody in B
        await _expect(tx, query, _params(b), expected)


async def test_editors_write_their_workspace(db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]) -> None:
    a, _ = seeded
    p = _params(a)
    async with db.transaction() as tx:
        await _as_user(tx, a.editor)
        match_id = await tx.fetch_val(
            "INSERT INTO matches (workspace_id, opponent, kickoff_at) VALUES (%(ws)s, 'Lakeside', now()) RETURNING id",
            p,
        )
        assert await tx.execute("UPDATE matches SET venue = 'Away' WHERE id = %(id)s", {"id": match_id}) == 1
        post = await tx.fetch_one(
            "INSERT INTO posts (workspace_id, instagram_account_id, match_id, caption)"
            " VALUES (%(ws)s, %(account)s, %(match)s, 'Draft') RETURNING id, status, created_by",
            p,
        )
        assert post is not None
        assert (post["status"], post["created_by"]) == ("draft", a.editor["id"])
        assert await tx.execute("UPDATE posts SET caption = 'Better' WHERE id = %(id)s", {"id": post["id"]}) == 1
        assert await tx.execute("DELETE FROM posts WHERE id = %(id)s", {"id": post["id"]}) == 1
        assert await tx.execute("DELETE FROM matches WHERE id = %(id)s", {"id": match_id}) == 1
        assert (
            await tx.execute(
                "INSERT INTO templates (workspace_id, key, content_type, format, spec)"
                " VALUES (%(ws)s, 'my-quote', 'quote', 'square', '{}')",
                p,
            )
            == 1
        )
        assert await tx.execute("UPDATE media_assets SET tags = '{goal}' WHERE id = %(asset)s", p) == 1
        assert await tx.execute("UPDATE drive_sources SET status = 'paused' WHERE id = %(source)s", p) == 1
        assert await tx.execute("UPDATE notifications SET read_at = now() WHERE workspace_id = %(ws)s", p) == 1


async def test_drive_sources_are_connected_only_through_drive_sync(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    """Editors cannot skip the proof of access: no inserts, no switching a pending source on."""
    a, _ = seeded
    async with db.transaction() as tx:
        pending = await create_drive_source(tx, a.id, status="pending", verified_at=None)
        p = _params(a) | {"pending": pending["id"]}
        await _as_user(tx, a.editor)
        denied: list[LiteralString] = [
            "INSERT INTO drive_sources (workspace_id, folder_id) VALUES (%(ws)s, 'another-clubs-folder')",
            "INSERT INTO drive_sources (workspace_id, folder_id, status, verified_at)"
            " VALUES (%(ws)s, 'another-clubs-folder', 'active', now())",
            "UPDATE drive_sources SET verified_at = now(), status = 'active' WHERE id = %(pending)s",
            "UPDATE drive_sources SET folder_id = 'another-clubs-folder' WHERE id = %(source)s",
            "UPDATE drive_sources SET verification_name = 'known' WHERE id = %(pending)s",
            "UPDATE drive_sources SET status = 'pending' WHERE id = %(source)s",
        ]
        for query in denied:
            assert isinstance(await attempt(tx, query, p), PermissionDeniedError), query
        assert await attempt(tx, "UPDATE drive_sources SET status = 'active' WHERE id = %(pending)s", p) == 0
        # what is left: pausing and resuming a verified source, and disconnecting any
        assert await attempt(tx, "UPDATE drive_sources SET status = 'paused' WHERE id = %(source)s", p) == 1
        assert await attempt(tx, "UPDATE drive_sources SET status = 'active' WHERE id = %(source)s", p) == 1
        assert await tx.fetch_val("SELECT verification_name FROM drive_sources WHERE id = %(pending)s", p)
        assert await attempt(tx, "DELETE FROM drive_sources WHERE id = %(pending)s", p) == 1


async def test_editors_cannot_drive_the_publishing_state_machine(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, _ = seeded
    p = _params(a)
    async with db.transaction() as tx:
        await _as_user(tx, a.editor)
        for query in (
            "UPDATE posts SET status = 'scheduled' WHERE id = %(post)s",
            "UPDATE posts SET ig_media_id = 'x' WHERE id = %(post)s",
            "UPDATE posts SET lease_expires_at = now() WHERE id = %(post)s",
            "INSERT INTO posts (workspace_id, status, scheduled_at, instagram_account_id)"
            " VALUES (%(ws)s, 'scheduled', now(), %(account)s)",
            "UPDATE workspaces SET require_approval = false WHERE id = %(ws)s",  # owners only: 0 rows
        ):
            outcome = await attempt(tx, query, p)
            assert isinstance(outcome, PermissionDeniedError) or outcome == 0, query
        # Published (and scheduled, publishing) posts are out of the frontend's reach.
        assert await attempt(tx, "UPDATE posts SET caption = 'edit' WHERE id = %(published)s", p) == 0
        assert await attempt(tx, "DELETE FROM posts WHERE id = %(published)s", p) == 0


async def test_a_post_cannot_point_into_another_workspace(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, b = seeded
    async with db.transaction() as tx:
        await _as_user(tx, a.editor)
        for column, foreign in (
            ("instagram_account_id", b.account["id"]),
            ("match_id", b.match["id"]),
            ("template_id", b.template["id"]),
        ):
            query = sql.SQL("INSERT INTO posts (workspace_id, {}) VALUES (%(ws)s, %(ref)s)").format(
                sql.Identifier(column)
            )
            outcome = await attempt(tx, query, {"ws": a.id, "ref": foreign})
            assert isinstance(outcome, UnprocessableError), (column, outcome)
        # A built-in template is fine.
        builtin = await tx.fetch_val("SELECT id FROM templates WHERE workspace_id IS NULL")
        assert (
            await attempt(
                tx, "INSERT INTO posts (workspace_id, template_id) VALUES (%(ws)s, %(t)s)", {"ws": a.id, "t": builtin}
            )
            == 1
        )
    # The privileged role is held to the same rule.
    async with db.transaction() as tx:
        outcome = await attempt(
            tx,
            "INSERT INTO post_media (post_id, workspace_id, position, asset_id) VALUES (%(p)s, %(ws)s, 1, %(a)s)",
            {"p": a.post["id"], "ws": a.id, "a": b.asset["id"]},
        )
        assert isinstance(outcome, UnprocessableError)
        assert outcome.constraint == "post_media_asset_fkey"


async def test_owners_manage_workspace_and_members(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, _ = seeded
    async with db.transaction() as tx:
        newcomer = await create_user(tx)
        await _as_user(tx, a.owner)
        p = _params(a) | {"newcomer": newcomer["id"]}
        assert (
            await tx.execute(
                "UPDATE workspaces SET caption_tone = 'bold', require_approval = true WHERE id = %(ws)s", p
            )
            == 1
        )
        assert (
            await tx.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%(ws)s, %(newcomer)s, 'viewer')", p
            )
            == 1
        )
        assert (
            await tx.execute(
                "UPDATE workspace_members SET role = 'editor' WHERE workspace_id = %(ws)s AND user_id = %(newcomer)s", p
            )
            == 1
        )
        # The last owner can neither leave nor step down.
        for query in (
            "DELETE FROM workspace_members WHERE workspace_id = %(ws)s AND user_id = %(owner)s",
            "UPDATE workspace_members SET role = 'editor' WHERE workspace_id = %(ws)s AND user_id = %(owner)s",
        ):
            outcome = await attempt(tx, query, p)
            assert isinstance(outcome, UnprocessableError), query
            assert outcome.constraint == "workspace_members_last_owner"
    async with db.transaction() as tx:
        await _as_user(tx, a.editor)
        # Editors cannot invite, but anyone may leave.
        assert isinstance(
            await attempt(
                tx,
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (%(ws)s, %(viewer)s, 'owner')",
                _params(a),
            ),
            PermissionDeniedError,
        )
        assert await tx.execute("DELETE FROM workspace_members WHERE user_id = %(me)s", {"me": a.editor["id"]}) == 1


async def test_create_workspace_makes_the_caller_its_owner(db: Database) -> None:
    async with db.transaction() as tx:
        user = await create_user(tx)
        await _as_user(tx, user)
        workspace_id = await tx.fetch_val("SELECT public.create_workspace('New FC', 'America/New_York')")
        row = await tx.fetch_one(
            "SELECT name, timezone, created_by FROM workspaces WHERE id = %(id)s", {"id": workspace_id}
        )
        assert row == {"name": "New FC", "timezone": "America/New_York", "created_by": user["id"]}
        assert (
            await tx.fetch_val("SELECT role FROM workspace_members WHERE workspace_id = %(id)s", {"id": workspace_id})
            == "owner"
        )
    async with db.transaction() as tx:  # the privileged role has no auth.uid(): refused
        assert isinstance(await attempt(tx, "SELECT public.create_workspace('Nobody FC')"), PermissionDeniedError)


# --- the audit trail --------------------------------------------------------------------------


async def test_post_events_are_append_only(db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]) -> None:
    a, _ = seeded
    params = {"post": a.post["id"]}
    count: LiteralString = "SELECT count(*) FROM post_events WHERE post_id = %(post)s"
    written = await db.fetch_val(count, params)
    assert written == 2  # its creation (recorded by the database) and one added by hand
    async with db.transaction() as tx:  # not even the service rewrites history
        for query in (
            "UPDATE post_events SET detail = '{\"forged\": true}' WHERE post_id = %(post)s",
            "DELETE FROM post_events WHERE post_id = %(post)s",
            "TRUNCATE post_events",
        ):
            assert isinstance(await attempt(tx, query, params), PermissionDeniedError), query
        await _as_user(tx, a.owner)
        for query in (
            "UPDATE post_events SET kind = 'x' WHERE post_id = %(post)s",
            "DELETE FROM post_events WHERE post_id = %(post)s",
        ):
            assert isinstance(await attempt(tx, query, params), PermissionDeniedError), query
    assert await db.fetch_val(count, params) == written


async def test_events_go_with_their_post_and_everything_with_its_workspace(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, b = seeded
    async with db.transaction() as tx:
        draft = await create_post(tx, a.id)
        await add_post_event(tx, draft)
        await add_post_event(tx, draft, kind="caption.generated")
    async with db.transaction() as tx:
        await _as_user(tx, a.editor)
        assert await tx.execute("DELETE FROM posts WHERE id = %(id)s", {"id": draft["id"]}) == 1
    assert await db.fetch_val("SELECT count(*) FROM post_events WHERE post_id = %(id)s", {"id": draft["id"]}) == 0

    async with db.transaction() as tx:
        assert await tx.execute("DELETE FROM workspaces WHERE id = %(ws)s", {"ws": a.id}) == 1
        tables = await _workspace_columns(tx)
        for table, column in tables.items():
            query = sql.SQL(
                "SELECT count(*) FILTER (WHERE {c} = %(a)s) AS a, count(*) FILTER (WHERE {c} = %(b)s) AS b FROM {t}"
            ).format(c=sql.Identifier(column), t=sql.Identifier("public", table))
            counts = await tx.fetch_one(query, {"a": a.id, "b": b.id})  # type: ignore[arg-type]
            assert counts is not None
            assert counts["a"] == 0, table
            assert counts["b"] >= 1 or table not in MEMBER_READABLE | {"oauth_states"}, table


# --- constraints ------------------------------------------------------------------------------

BAD_VALUES: list[tuple[LiteralString, str]] = [
    ("UPDATE posts SET status = 'sent' WHERE id = %(post)s", "posts_status_check"),
    ("UPDATE posts SET media_type = 'REEL' WHERE id = %(post)s", "posts_media_type_check"),
    ("UPDATE posts SET status = 'published' WHERE id = %(post)s", "posts_published_check"),
    ("UPDATE posts SET status = 'scheduled', scheduled_at = NULL WHERE id = %(post)s", "posts_scheduled_at_check"),
    ("UPDATE posts SET status = 'publishing' WHERE id = %(post)s", "posts_lease_check"),
    ("UPDATE posts SET status = 'failed' WHERE id = %(post)s", "posts_failed_check"),
    ("UPDATE posts SET hashtags = array_fill('#x'::text, ARRAY[31]) WHERE id = %(post)s", "posts_hashtags_check"),
    ("UPDATE posts SET caption = repeat('x', 2201) WHERE id = %(post)s", "posts_caption_check"),
    ("UPDATE posts SET ig_media_id = 'other' WHERE id = %(published)s", "posts_ig_media_id_immutable"),
    ("UPDATE posts SET status = 'scheduled' WHERE id = %(published)s", "posts_published_is_final"),
    ("UPDATE matches SET status = 'abandoned' WHERE id = %(match)s", "matches_status_check"),
    ("UPDATE matches SET home_score = NULL WHERE id = %(match)s", "matches_finished_score_check"),
    ("UPDATE matches SET player_stats = '{}' WHERE id = %(match)s", "matches_player_stats_check"),
    ("UPDATE instagram_accounts SET status = 'banned' WHERE id = %(account)s", "instagram_accounts_status_check"),
    (
        "UPDATE instagram_accounts SET status = 'rate_limited' WHERE id = %(account)s",
        "instagram_accounts_rate_limited_check",
    ),
    ("UPDATE drive_sources SET status = 'broken' WHERE id = %(source)s", "drive_sources_status_check"),
    ("UPDATE media_assets SET source = 'camera' WHERE id = %(asset)s", "media_assets_source_check"),
    # (a ready asset's content cannot be updated at all: media_assets_content_immutable)
    (
        "INSERT INTO media_assets (workspace_id, source, status) VALUES (%(ws)s, 'upload', 'lost')",
        "media_assets_status_check",
    ),
    (
        "INSERT INTO media_assets (workspace_id, source, md5, status) VALUES (%(ws)s, 'upload', 'nope', 'failed')",
        "media_assets_md5_check",
    ),
    ("UPDATE templates SET format = 'landscape' WHERE id = %(template)s", "templates_format_check"),
    ("UPDATE workspace_members SET role = 'admin' WHERE user_id = %(viewer)s", "workspace_members_role_check"),
    ("UPDATE workspaces SET primary_color = 'red' WHERE id = %(ws)s", "workspaces_primary_color_check"),
    ("UPDATE workspaces SET timezone = 'Mars/Olympus' WHERE id = %(ws)s", "workspaces_timezone_check"),
    ("UPDATE workspaces SET timezone = 'foo+3' WHERE id = %(ws)s", "workspaces_timezone_check"),
    (
        "INSERT INTO post_events (post_id, workspace_id, kind, to_status) VALUES (%(post)s, %(ws)s, 'status', 'done')",
        "post_events_to_status_check",
    ),
    (
        "INSERT INTO notifications (workspace_id, kind, message, severity) VALUES (%(ws)s, 'x', 'm', 'fatal')",
        "notifications_severity_check",
    ),
    (
        "INSERT INTO audience_online_hours (workspace_id, instagram_account_id, weekday, hour, followers_online)"
        " VALUES (%(ws)s, %(account)s, 7, 0, 1)",
        "audience_online_hours_weekday_check",
    ),
]


@pytest.mark.parametrize(("query", "constraint"), BAD_VALUES, ids=[c for _, c in BAD_VALUES])
async def test_checks_refuse_bad_values(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace], query: LiteralString, constraint: str
) -> None:
    a, _ = seeded
    async with db.transaction() as tx:
        outcome = await attempt(tx, query, _params(a))
    assert isinstance(outcome, UnprocessableError), outcome
    assert outcome.constraint == constraint


async def test_unique_keys_make_retries_idempotent(
    db: Database, seeded: tuple[SeededWorkspace, SeededWorkspace]
) -> None:
    a, b = seeded
    async with db.transaction() as tx:
        media_id = a.published_post["ig_media_id"]
        outcome = await attempt(
            tx,
            "UPDATE posts SET ig_media_id = %(m)s, published_at = now(), status = 'published' WHERE id = %(p)s",
            {"m": media_id, "p": b.post["id"]},
        )
        assert isinstance(outcome, ConflictError)
        assert outcome.constraint == "posts_ig_media_id_key"
        await create_post(tx, a.id, dedupe_key="match_result:1")
        again = await tx.fetch_val(
            "INSERT INTO posts (workspace_id, dedupe_key) VALUES (%(ws)s, 'match_result:1')"
            " ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING id",
            {"ws": a.id},
        )
        assert again is None
        duplicate = await attempt(
            tx,
            "INSERT INTO instagram_accounts (workspace_id, ig_user_id) VALUES (%(ws)s, %(ig)s)",
            {"ws": a.id, "ig": a.account["ig_user_id"]},
        )
        assert isinstance(duplicate, ConflictError)
        for _ in range(2):
            await tx.execute(
                "INSERT INTO notifications (workspace_id, kind, message, dedupe_key)"
                " VALUES (%(ws)s, 'instagram.reauth_required', 'Reconnect', 'reauth')"
                " ON CONFLICT (workspace_id, dedupe_key) WHERE read_at IS NULL DO NOTHING",
                {"ws": a.id},
            )
        assert await tx.fetch_val("SELECT count(*) FROM notifications WHERE dedupe_key = 'reauth'") == 1
        assert isinstance(
            await attempt(
                tx,
                "INSERT INTO templates (key, content_type, format) VALUES ('builtin-result',"
                " 'match_result', 'feed_4x5')",
            ),
            ConflictError,
        )


async def test_updated_at_moves_on_update(db: Database) -> None:
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
    async with db.transaction() as tx:
        await tx.execute("UPDATE workspaces SET name = 'Renamed FC' WHERE id = %(id)s", {"id": ws["id"]})
        row = await tx.fetch_one("SELECT created_at, updated_at FROM workspaces WHERE id = %(id)s", {"id": ws["id"]})
    assert row is not None
    assert row["updated_at"] > row["created_at"]


# --- the publisher's indexes ------------------------------------------------------------------

CLAIM: LiteralString = """
    EXPLAIN SELECT id FROM posts
    WHERE status = 'scheduled' AND coalesce(next_attempt_at, scheduled_at) <= now()
    ORDER BY coalesce(next_attempt_at, scheduled_at)
    LIMIT 20
    FOR UPDATE SKIP LOCKED
"""
CLAIM_ACTIVE_ACCOUNTS: LiteralString = """
    EXPLAIN SELECT p.id FROM posts p
    JOIN instagram_accounts a ON a.id = p.instagram_account_id
    WHERE p.status = 'scheduled' AND coalesce(p.next_attempt_at, p.scheduled_at) <= now()
      AND a.status = 'active'
    ORDER BY coalesce(p.next_attempt_at, p.scheduled_at)
    LIMIT 20
    FOR UPDATE OF p SKIP LOCKED
"""
RECLAIM: LiteralString = """
    EXPLAIN SELECT id FROM posts
    WHERE status = 'publishing' AND lease_expires_at < now()
    LIMIT 20
    FOR UPDATE SKIP LOCKED
"""


@pytest.fixture
async def many_posts(db: Database) -> AsyncIterator[None]:
    """A workspace with a few thousand posts, most of them long published."""
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        account = await create_instagram_account(tx, ws["id"])
        await tx.execute(
            """
            INSERT INTO posts (workspace_id, instagram_account_id, status, scheduled_at, published_at,
                               ig_media_id, lease_expires_at, failure_reason)
            SELECT %(ws)s, %(account)s, s.status, now() + (g - 4000) * interval '1 hour',
                   CASE WHEN s.status = 'published' THEN now() END,
                   CASE WHEN s.status = 'published' THEN 'media-' || g END,
                   CASE WHEN s.status = 'publishing' THEN now() + interval '5 minutes' END,
                   CASE WHEN s.status = 'failed' THEN 'test' END
            FROM generate_series(1, 5000) AS g,
                 LATERAL (SELECT CASE WHEN mod(g, 50) = 0 THEN 'scheduled' WHEN mod(g, 97) = 0 THEN 'publishing'
                                      WHEN mod(g, 31) = 0 THEN 'failed' ELSE 'published' END AS status) AS s
            """,
            {"ws": ws["id"], "account": account["id"]},
        )
        await tx.execute("ANALYZE posts")
    yield


async def _plan(db: Database, query: LiteralString) -> str:
    # No enable_seqscan=off: with realistic data (most posts long published) the planner must
    # prefer the partial indexes on its own.
    rows = await db.fetch_all(query)
    return "\n".join(next(iter(r.values())) for r in rows)


async def test_claiming_due_posts_uses_the_partial_index(db: Database, many_posts: None) -> None:
    assert await db.fetch_val("SELECT indexdef FROM pg_indexes WHERE indexname = 'posts_due_idx'") == (
        "CREATE INDEX posts_due_idx ON public.posts USING btree (COALESCE(next_attempt_at, scheduled_at))"
        " WHERE (status = 'scheduled'::text)"
    )
    assert "posts_due_idx" in await _plan(db, CLAIM)
    assert "posts_due_idx" in await _plan(db, CLAIM_ACTIVE_ACCOUNTS)
    assert "posts_lease_idx" in await _plan(db, RECLAIM)
