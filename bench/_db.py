"""A fresh, migrated database for a benchmark: on DATABASE_URL's server, or an embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from sociallab import migrate

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def database(prefix: str) -> Iterator[str]:
    """The URL of a new database with every migration applied; dropped (and the server stopped) after."""
    server = None
    data_dir: Path | None = None
    admin = os.environ.get("DATABASE_URL")
    if not admin:
        import pgserver

        data_dir = Path(tempfile.mkdtemp(prefix=f"sociallab-{prefix}-pg-"))
        server = pgserver.get_server(data_dir, cleanup_mode="delete")
        admin = server.get_uri()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # a generated name, never user input
    url = make_conninfo(admin, dbname=name)
    try:
        migrate.apply(url, ROOT / "migrations")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a generated name, never user input
        if server is not None:
            server.cleanup()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
