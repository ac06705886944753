"""infra/supabase.py sets up the Supabase side (issue 7.6): a private, server-only bucket, and the
database webhook on public.matches with the secret header and a timeout above 1 s.

Run against the migrated test database plus what Supabase adds to it (tests/fixtures/supabase.sql:
roles, Storage's tables, a recording stand-in for `supabase_functions.http_request`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.deployment import INFRA, ROOT

pytestmark = pytest.mark.integration

WEBHOOK_URL = "https://generate-content-123456789012.europe-west1.run.app/webhook"
SECRET = "s3cret-webhook-value"


@pytest.fixture
def supabase_url(database_url: str) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute((ROOT / "tests" / "fixtures" / "supabase.sql").read_text())  # type: ignore[arg-type]
    yield database_url


def run(database_url: str, *args: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WEBHOOK_SECRET"}
    env["DATABASE_URL"] = database_url
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    return subprocess.run(
        [sys.executable, str(INFRA / "supabase.py"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def as_role(conn: psycopg.Connection[dict[str, object]], role: str, statement: str) -> list[dict[str, object]]:
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {role}")  # type: ignore[arg-type]  # fixed role names
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_storage_makes_a_private_bucket_closed_to_browser_clients(supabase_url: str) -> None:
    for _ in range(2):  # idempotent
        done = run(supabase_url, "storage", "--bucket", "media")
        assert done.returncode == 0, done.stderr
    with psycopg.connect(supabase_url, row_factory=dict_row) as conn:
        bucket = conn.execute("SELECT id, public, file_size_limit FROM storage.buckets").fetchall()
        assert bucket == [{"id": "media", "public": False, "file_size_limit": 52428800}]
        # Even with a permissive policy for everything (added later, for another bucket) ...
        conn.execute("INSERT INTO storage.buckets (id, name) VALUES ('avatars', 'avatars')")
        conn.execute("INSERT INTO storage.objects (bucket_id, name) VALUES ('media', 'a.jpg'), ('avatars', 'b.jpg')")
        conn.execute("CREATE POLICY everything ON storage.objects FOR ALL TO anon, authenticated USING (true)")
        for role in ("anon", "authenticated"):
            # ... a browser client sees and writes only the other bucket.
            assert as_role(conn, role, "SELECT bucket_id FROM storage.objects") == [{"bucket_id": "avatars"}]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_role(conn, role, "INSERT INTO storage.objects (bucket_id, name) VALUES ('media', 'x.jpg')")
            assert (
                as_role(conn, role, "UPDATE storage.objects SET name = 'y' WHERE bucket_id = 'media' RETURNING 1") == []
            )
        # The service role (the functions) bypasses RLS and sees both.
        assert len(conn.execute("SELECT 1 FROM storage.objects").fetchall()) == 2


def test_webhook_posts_every_insert_and_update_of_a_match_with_the_secret(supabase_url: str) -> None:
    for _ in range(2):  # idempotent: one trigger, however often it is applied
        done = run(supabase_url, "webhook", "--url", WEBHOOK_URL, secret=SECRET)
        assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    with psycopg.connect(supabase_url, row_factory=dict_row) as conn:
        workspace = conn.execute("INSERT INTO public.workspaces (name) VALUES ('Club') RETURNING id").fetchone()
        assert workspace is not None
        match = conn.execute(
            "INSERT INTO public.matches (workspace_id, opponent, kickoff_at) VALUES (%s, 'Rivals', now()) RETURNING id",
            (workspace["id"],),
        ).fetchone()
        assert match is not None
        conn.execute("UPDATE public.matches SET venue = 'Home ground' WHERE id = %s", (match["id"],))
        calls = conn.execute("SELECT * FROM supabase_functions.requests ORDER BY id").fetchall()
    match_id = str(match["id"])
    assert [(call["op"], call["record"]["id"]) for call in calls] == [("INSERT", match_id), ("UPDATE", match_id)]
    for call in calls:
        assert call["url"] == WEBHOOK_URL and call["method"] == "POST"
        assert call["headers"] == {"Content-Type": "application/json", "X-Webhook-Secret": SECRET}
        assert call["timeout_ms"] > 1000


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["webhook", "--url", WEBHOOK_URL], None, "WEBHOOK_SECRET is not set"),
        (["webhook", "--url", "http://example.com/webhook"], SECRET, "--url must be"),
        (["webhook", "--url", WEBHOOK_URL, "--timeout-ms", "1000"], SECRET, "--timeout-ms must be above 1000"),
        (["storage", "--bucket", " "], None, "bucket name must not be empty"),
    ],
)
def test_bad_values_are_refused_before_touching_the_database(
    supabase_url: str, args: list[str], secret: str | None, message: str
) -> None:
    done = run(supabase_url, *args, secret=secret)
    assert done.returncode == 2 and message in done.stderr
    with psycopg.connect(supabase_url) as conn:
        triggers = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'matches_generate_content'").fetchone()
        assert triggers == (0,)
        assert conn.execute("SELECT count(*) FROM storage.buckets").fetchone() == (0,)


def test_a_database_without_supabase_is_refused_clearly(database_url: str) -> None:
    done = run(database_url, "storage")
    assert done.returncode == 1
    assert 'schema "storage" does not exist' in done.stderr or "storage.buckets" in done.stderr


def test_webhook_without_database_webhooks_enabled_says_how_to_enable_them(supabase_url: str) -> None:
    with psycopg.connect(supabase_url, autocommit=True) as conn:  # a Supabase project with webhooks off
        conn.execute("DROP SCHEMA supabase_functions CASCADE")
    done = run(supabase_url, "webhook", "--url", WEBHOOK_URL, secret=SECRET)
    assert done.returncode == 2
    assert "Database Webhooks are not enabled" in done.stderr and "Integrations" in done.stderr
    with psycopg.connect(supabase_url) as conn:
        triggers = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'matches_generate_content'").fetchone()
        assert triggers == (0,)
