"""The migrator against a real PostgreSQL: applies everything once, refuses edited history,
serialises concurrent deployers, rolls a failing file back whole; and the objects the rest of the
code base relies on exist afterwards."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest

from sociallab import migrate

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

TABLES = {
    "workspaces",
    "workspace_members",
    "instagram_accounts",
    "drive_sources",
    "media_assets",
    "matches",
    "templates",
    "posts",
    "post_media",
    "post_events",
    "post_status_edges",
    "caption_cache",
    "usage_counters",
    "webhook_receipts",
    "account_insights",
    "media_insights",
    "audience_online_hours",
    "notifications",
    "oauth_states",
}


def _files() -> list[str]:
    return sorted(p.name for p in MIGRATIONS.glob("*.sql"))


def _fetch(url: str, query: LiteralString, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """The project's migrations in a folder the test may change."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    return folder


def test_applies_everything_once_and_records_checksums(empty_database_url: str) -> None:
    assert migrate.apply(empty_database_url, MIGRATIONS) == _files()
    assert migrate.apply(empty_database_url, MIGRATIONS) == []
    assert migrate.status(empty_database_url, MIGRATIONS) == []
    recorded = _fetch(empty_database_url, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    expected = [
        (p.name[:3], p.stem[4:], hashlib.sha256(p.read_text(encoding="utf-8").encode()).hexdigest())
        for p in sorted(MIGRATIONS.glob("*.sql"))
    ]
    assert recorded == expected


def test_expected_objects_exist(empty_database_url: str) -> None:
    migrate.apply(empty_database_url, MIGRATIONS)
    tables = {
        name
        for (name,) in _fetch(
            empty_database_url,
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
        )
    }
    assert tables >= TABLES | {"schema_migrations"}
    without_rls = _fetch(
        empty_database_url,
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        " AND NOT relrowsecurity ORDER BY relname",
    )
    assert without_rls == [("schema_migrations",)]
    indexes = {name for (name,) in _fetch(empty_database_url, "SELECT indexname FROM pg_indexes")}
    assert {"posts_due_idx", "posts_lease_idx", "notifications_unread_dedupe_key"} <= indexes
    functions = {
        name
        for (name,) in _fetch(
            empty_database_url,
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace",
        )
    }
    assert {"is_member(uuid,text)", "create_workspace(text,text)", "set_updated_at()"} <= functions
    roles = {name for (name,) in _fetch(empty_database_url, "SELECT rolname FROM pg_roles")}
    assert {"anon", "authenticated", "service_role"} <= roles
    assert _fetch(empty_database_url, "SELECT to_regprocedure('auth.uid()') IS NOT NULL") == [(True,)]


def test_an_edited_migration_is_refused(empty_database_url: str, migrations_copy: Path) -> None:
    migrate.apply(empty_database_url, migrations_copy)
    schema = migrations_copy / "001_schema.sql"
    schema.write_text(schema.read_text(encoding="utf-8") + "\n-- a harmless edit\n", encoding="utf-8")
    with pytest.raises(migrate.EditedMigrationError, match=re.escape("001_schema.sql")):
        migrate.apply(empty_database_url, migrations_copy)
    with pytest.raises(migrate.EditedMigrationError, match=re.escape("001_schema.sql")):
        migrate.status(empty_database_url, migrations_copy)


@pytest.mark.parametrize("name", ["2_short.sql", "002-dashes.sql", "002_Upper.sql"])
def test_a_misnamed_file_is_refused_before_anything_runs(
    empty_database_url: str, migrations_copy: Path, name: str
) -> None:
    (migrations_copy / name).write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(migrate.MigrationError, match=re.escape(name)):
        migrate.apply(empty_database_url, migrations_copy)
    assert _fetch(empty_database_url, "SELECT to_regclass('public.schema_migrations')") == [(None,)]


def test_a_missing_or_empty_folder_is_not_up_to_date(empty_database_url: str, tmp_path: Path) -> None:
    with pytest.raises(migrate.MigrationError, match="no such migrations folder"):
        migrate.status(empty_database_url, tmp_path / "nowhere")
    with pytest.raises(migrate.MigrationError, match="no migration files"):
        migrate.apply(empty_database_url, tmp_path)


def test_a_duplicate_version_is_refused(empty_database_url: str, migrations_copy: Path) -> None:
    (migrations_copy / "001_again.sql").write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(migrate.MigrationError, match="version 001"):
        migrate.apply(empty_database_url, migrations_copy)


def test_a_failing_migration_rolls_back_whole(empty_database_url: str, migrations_copy: Path) -> None:
    broken = migrations_copy / "900_broken.sql"
    broken.write_text("CREATE TABLE public.half_done (id int);\nSELECT 1 / 0;\n", encoding="utf-8")
    with pytest.raises(migrate.MigrationError, match=re.escape("900_broken.sql")):
        migrate.apply(empty_database_url, migrations_copy)
    assert _fetch(empty_database_url, "SELECT to_regclass('public.half_done')") == [(None,)]
    versions = [v for (v,) in _fetch(empty_database_url, "SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [name[:3] for name in _files()]  # everything before it stays applied
    # Fixed, it applies on the next run.
    broken.write_text("CREATE TABLE public.half_done (id int);\n", encoding="utf-8")
    assert migrate.apply(empty_database_url, migrations_copy) == ["900_broken.sql"]


def test_a_migration_numbered_below_the_newest_applied_is_refused(
    empty_database_url: str, migrations_copy: Path
) -> None:
    migrate.apply(empty_database_url, migrations_copy)
    (migrations_copy / "002_late.sql").write_text("CREATE TABLE public.late (id int);\n", encoding="utf-8")
    newest = _files()[-1][:3]
    with pytest.raises(migrate.OutOfOrderMigrationError, match=rf"002_late\.sql is numbered below {newest}"):
        migrate.apply(empty_database_url, migrations_copy)
    with pytest.raises(migrate.OutOfOrderMigrationError, match=r"002_late\.sql"):
        migrate.status(empty_database_url, migrations_copy)
    assert _fetch(empty_database_url, "SELECT to_regclass('public.late')") == [(None,)]
    # Renumbered above the newest, it applies.
    (migrations_copy / "002_late.sql").rename(migrations_copy / "999_late.sql")
    assert migrate.apply(empty_database_url, migrations_copy) == ["999_late.sql"]


def test_concurrent_deployers_apply_each_migration_once(empty_database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate.apply(empty_database_url, MIGRATIONS), range(4)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == _files()  # every file by exactly one of them
    counts = _fetch(empty_database_url, "SELECT count(*), count(DISTINCT version) FROM schema_migrations")
    assert counts == [(len(_files()), len(_files()))]


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "sociallab.migrate", "--dir", str(MIGRATIONS), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line(empty_database_url: str) -> None:
    pending = _cli(empty_database_url, "--status")
    assert pending.returncode == 1
    assert pending.stdout.split() == _files()
    applied = _cli(empty_database_url)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [f"applied {name}" for name in _files()]
    current = _cli(empty_database_url, "--status")
    assert (current.returncode, current.stdout.strip()) == (0, "up to date")


def test_drive_sources_connected_before_011_must_prove_access(empty_database_url: str, migrations_copy: Path) -> None:
    for later in migrations_copy.glob("*.sql"):
        if later.name >= "011":
            later.unlink()
    migrate.apply(empty_database_url, migrations_copy)
    with psycopg.connect(empty_database_url) as conn:
        ws = conn.execute("INSERT INTO workspaces (name) VALUES ('Old FC') RETURNING id").fetchone()
        assert ws is not None
        for folder, status in (("f-active", "active"), ("f-paused", "paused")):
            conn.execute(
                "INSERT INTO drive_sources (workspace_id, folder_id, status) VALUES (%s, %s, %s)",
                (ws[0], folder, status),
            )
    migrate.apply(empty_database_url, MIGRATIONS)
    rows = _fetch(empty_database_url, "SELECT status, verified_at, verification_name FROM drive_sources")
    assert [(status, verified) for status, verified, _ in rows] == [("pending", None), ("pending", None)]
    names = {name for _, _, name in rows}
    assert len(names) == 2 and all(re.fullmatch(r"sociallab-verify-[0-9a-f]{32}", n) for n in names)
