"""Test fixtures shared by every tier.

Integration and e2e tests get a real PostgreSQL: `DATABASE_URL` if it is set (a server the suite
may create databases on), otherwise an embedded one from pgserver in a temporary folder. The
migrations are applied once to a template database; each test gets its own clone
(`CREATE DATABASE ... TEMPLATE`), so tests never see each other's rows.

Cloning and dropping take the server longer than most tests take, so one background thread keeps
clones ready ahead of the tests and drops used ones while the next test runs.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from sociallab import migrate
from sociallab.config import reset_settings
from sociallab.db import Database, close_db

# Fixture modules of the fakes (sandboxes) each area brings; one line each.
pytest_plugins: list[str] = [
    "tests.plugins.gemini",
    "tests.plugins.posts",
    "tests.plugins.instagram",
    "tests.plugins.drive",
    "tests.plugins.publisher",
]

ROOT = Path(__file__).resolve().parents[1]
_ADMIN_URL = os.environ.get("DATABASE_URL")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL to a PostgreSQL server on which the suite may create databases."""
    if _ADMIN_URL:
        yield _ADMIN_URL
        return
    import pgserver

    # Not pytest's tmp_path: pytest prunes old base temp folders, which another pytest process on
    # the same machine may do while this server still runs.
    data_dir = Path(tempfile.mkdtemp(prefix="sociallab-test-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    # Its data is thrown away after the run, so it need not survive a crash: without fsync,
    # dropping each test's database no longer waits for a checkpoint to reach the disk.
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        _admin_execute(server.get_uri(), f"ALTER SYSTEM SET {setting} = off")
    _admin_execute(server.get_uri(), "SELECT pg_reload_conf()")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


def _admin_execute(admin_url: str, statement: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]  # names below are generated, never user input


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, used as the template for per-test clones."""
    name = f"sociallab_template_{uuid.uuid4().hex[:8]}"
    _admin_execute(pg_admin_url, f'CREATE DATABASE "{name}"')
    url = make_conninfo(pg_admin_url, dbname=name)
    migrate.apply(url, ROOT / "migrations")
    yield url
    _admin_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _ClonePool:
    """Clones of the template made ahead of use, and used ones dropped, by one background thread.

    Every clone is made from the untouched template and each is handed out once, so a test still
    starts from exactly the migrated state.
    """

    AHEAD = 2

    def __init__(self, admin_url: str, template: str) -> None:
        self._admin_url = admin_url
        self._template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        for _ in range(self.AHEAD):
            self._jobs.put(("create", ""))
        self._thread = threading.Thread(target=self._work, name="test-database-clones", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The name of a fresh clone; the thread starts making the next one."""
        self._jobs.put(("create", ""))
        name = self._ready.get()
        if isinstance(name, BaseException):
            raise name
        return name

    def give_back(self, name: str) -> None:
        """Drop this clone (it may be gone already) once the jobs queued before it are done."""
        self._jobs.put(("drop", name))

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()
        while not self._ready.empty():
            left = self._ready.get()
            if isinstance(left, str):
                _admin_execute(self._admin_url, f'DROP DATABASE IF EXISTS "{left}" WITH (FORCE)')

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            action, name = job
            try:
                if action == "create":
                    name = f"test_{uuid.uuid4().hex[:12]}"
                    _admin_execute(self._admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
                    self._ready.put(name)
                else:
                    _admin_execute(self._admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # a failed clone fails the test waiting for it instead of hanging it
                if action == "create":
                    self._ready.put(exc)


@pytest.fixture(scope="session")
def clones(pg_admin_url: str, template_url: str) -> Iterator[_ClonePool]:
    pool = _ClonePool(pg_admin_url, psycopg.conninfo.conninfo_to_dict(template_url)["dbname"])
    yield pool
    pool.close()


@pytest.fixture
async def database_url(pg_admin_url: str, clones: _ClonePool, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A fresh, fully migrated database for this test; DATABASE_URL points at it.

    Async so that the process-wide pool the code under test opened (`get_db()`, on this test's event
    loop) is closed before its database is dropped: a pool left open on a dropped database can keep
    the loop from closing.
    """
    name = clones.take()
    url = make_conninfo(pg_admin_url, dbname=name)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings()
    yield url
    await close_db()
    reset_settings()
    clones.give_back(name)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A database with no migrations applied (for migrator tests)."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    _admin_execute(pg_admin_url, f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_admin_url, dbname=name)
    _admin_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open pool on this test's database."""
    database = Database(database_url, max_size=4)
    await database.open()
    yield database
    await database.close()
    await close_db()


@pytest.fixture(autouse=True)
def _clean_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


# Screenshots the browser tests saved (tests/browser/conftest.py), gathered from the tests' reports.
_screenshots: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _screenshots.update(str(value) for key, value in report.user_properties if key == "screenshot")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _screenshots:
        folders = sorted({str(Path(path).parent) for path in _screenshots})
        terminalreporter.write_line(f"browser screenshots ({len(_screenshots)}): " + ", ".join(folders))
