"""Apply `migrations/NNN_name.sql` in order: `python -m sociallab.migrate [--dir DIR] [--status]`.

Each file runs in its own transaction together with its row in `schema_migrations`
(version, name, sha256 checksum). Every transaction first takes a transaction-scoped advisory
lock, so two deployers running at once serialise, and the second finds the work done; the
transaction-scoped lock also works through Supabase's transaction pooler. A file whose content
changed after it was applied is refused: write a new migration instead. So is a file numbered below
the newest applied one: it would run after newer files on existing databases and before them on
fresh ones, so the two would end up different (migrations/README.md says how numbers are chosen).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sociallab.config import get_settings
from sociallab.errors import AppError, ConflictError

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "migrations"
LOCK_KEY = 0x50C1A1AB  # any constant; identifies "sociallab migrations" among advisory locks
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(AppError):
    """The migrations cannot be applied."""


class EditedMigrationError(ConflictError):
    """An applied migration file was edited."""


class OutOfOrderMigrationError(ConflictError):
    """A migration not applied yet is numbered below the newest applied one."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory: Path = DEFAULT_DIR) -> list[Migration]:
    """The migration files in `directory`, ordered by version.

    Raises:
        MigrationError: the folder does not exist or holds no migration (a wrong `--dir`, or a
            package installed without its migrations, must not pass as "up to date"), a file
            name does not follow NNN_name.sql, or two files share a version.
    """
    if not directory.is_dir():
        raise MigrationError(f"{directory}: no such migrations folder")
    migrations: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql (e.g. 001_schema.sql)")
        version, name = match.groups()
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version, name, path, path.read_text(encoding="utf-8"))
    if not migrations:
        raise MigrationError(f"{directory}: no migration files (NNN_name.sql) found")
    return [migrations[v] for v in sorted(migrations)]


def _applied(conn: psycopg.Connection) -> dict[str, str]:
    exists = conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, checksum FROM public.schema_migrations").fetchall()
    return {version: checksum for version, checksum in rows}


def _check_not_edited(migrations: list[Migration], applied: dict[str, str]) -> None:
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise EditedMigrationError(
                f"{migration.path.name} was edited after it was applied "
                f"(recorded checksum {recorded[:12]}, file now {migration.checksum[:12]}). "
                "Applied migrations are immutable: revert the edit and add a new migration."
            )


def _check_in_order(waiting: list[Migration], applied: dict[str, str]) -> None:
    newest = max(applied, default=None)
    late = [m.path.name for m in waiting if newest is not None and m.version < newest]
    if late:
        raise OutOfOrderMigrationError(
            f"{', '.join(late)} {'is' if len(late) == 1 else 'are'} numbered below {newest}, the newest "
            "applied migration, so existing and fresh databases would apply them in different orders. "
            "Renumber above the newest migration (see migrations/README.md)."
        )


def pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """The migrations not applied yet.

    Raises:
        EditedMigrationError: an applied file changed since.
        OutOfOrderMigrationError: one not applied yet is numbered below the newest applied one.
    """
    applied = _applied(conn)
    _check_not_edited(migrations, applied)
    waiting = [m for m in migrations if m.version not in applied]
    _check_in_order(waiting, applied)
    return waiting


def apply(url: str, directory: Path = DEFAULT_DIR) -> list[str]:
    """Apply every pending migration; returns the file names applied (empty when up to date).

    Raises:
        EditedMigrationError: an applied migration file was edited.
        OutOfOrderMigrationError: a pending file is numbered below the newest applied one (nothing runs).
        MigrationError: a file is misnamed or its SQL failed (the failing file is named).
    """
    migrations = discover(directory)
    done: list[str] = []
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        for migration in migrations:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                conn.execute(_CREATE_TABLE)
                if migration not in pending(conn, migrations):
                    continue
                try:
                    conn.execute(migration.sql.encode("utf-8"))
                except psycopg.Error as exc:
                    raise MigrationError(f"{migration.path.name} failed: {exc}") from exc
                conn.execute(
                    "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration.path.name)
        # Re-check at the end: a file edited after being applied by someone else is still refused.
        pending(conn, migrations)
    return done


def status(url: str, directory: Path = DEFAULT_DIR) -> list[str]:
    """Names of the migrations not applied yet (empty means current).

    Raises:
        EditedMigrationError: an applied migration file was edited.
        OutOfOrderMigrationError: a pending file is numbered below the newest applied one.
    """
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        return [m.path.name for m in pending(conn, discover(directory))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sociallab.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="migrations folder")
    parser.add_argument("--status", action="store_true", help="list pending migrations, apply nothing")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        settings.require("database_url")
        assert settings.database_url is not None
        if args.status:
            waiting = status(settings.database_url, args.dir)
            print("\n".join(waiting) if waiting else "up to date")
            return 1 if waiting else 0
        applied = apply(settings.database_url, args.dir)
    except AppError as exc:
        print(f"migrate: {exc.message}", file=sys.stderr)
        return 2
    print("\n".join(f"applied {name}" for name in applied) if applied else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
