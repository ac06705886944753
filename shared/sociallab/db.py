"""Postgres access: an async pool, explicit transactions, dict rows, and our own errors.

    db = get_db()
    async with db.transaction() as tx:
        post = await tx.fetch_one(QUERIES["claim_post"], {"post_id": post_id})

A transaction commits when its block ends normally and rolls back on any exception.
Connections use `prepare_threshold=None` because Supabase's pooler (transaction mode) cannot
keep prepared statements, and nothing here uses session-level `SET`: per-transaction settings
go through `set_config(..., true)`.

SQL lives in `.sql` files beside the module that uses it, one query per `-- name: <name>` header,
loaded with `load_queries`. Parameters are named (`%(post_id)s`), never formatted in.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sociallab.config import get_settings
from sociallab.errors import (
    AppError,
    BadRequestError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from sociallab.jsonlimits import MAX_JSON_DEPTH, load_json

Row = dict[str, Any]
Params = Mapping[str, Any] | None

_QUERY_HEADER = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


def load_queries(path: str | Path) -> dict[str, LiteralString]:
    """Read a `.sql` file of `-- name: x` sections into `{name: sql}`."""
    text = Path(path).read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)
    queries: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"duplicate query name {name!r} in {path}")
        queries[name] = cast(LiteralString, body.strip())
    return queries


def translate_error(exc: psycopg.Error) -> AppError:
    """Map a psycopg error to the project's error tree, keeping the constraint name."""
    constraint = getattr(exc.diag, "constraint_name", None)
    detail = exc.diag.message_primary or "database error"
    if isinstance(exc, pg_errors.UniqueViolation | pg_errors.ExclusionViolation):
        return ConflictError("This already exists.", constraint=constraint)
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        return UnprocessableError("A referenced row does not exist.", constraint=constraint)
    if isinstance(exc, pg_errors.CheckViolation | pg_errors.NotNullViolation):
        return UnprocessableError(f"A rule was broken: {constraint or detail}.", constraint=constraint)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return PermissionDeniedError()
    if isinstance(exc, pg_errors.NoDataFound):
        return NotFoundError()
    if isinstance(exc, pg_errors.DataError):
        return BadRequestError(f"Invalid value: {detail}.")
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return ConflictError("Concurrent update; please retry.")
    if isinstance(exc, psycopg.OperationalError):
        return DependencyUnavailableError("The database is unavailable.")
    return AppError()


def load_stored_json(data: str | bytes) -> Any:
    """A json/jsonb value from the database, read with the same depth bound as request bodies.

    Users write some JSON straight through Supabase (e.g. `matches.data`); see `sociallab.jsonlimits`.

    Raises:
        UnprocessableError: nested deeper than `MAX_JSON_DEPTH`, or a number too long to convert.
    """
    try:
        return load_json(data)
    except ValueError:
        raise UnprocessableError(
            f"Stored data cannot be read: JSON nested deeper than {MAX_JSON_DEPTH} levels or a number too long."
        ) from None


async def _configure(conn: psycopg.AsyncConnection[Row]) -> None:
    set_json_loads(load_stored_json, conn)


class Tx:
    """One transaction on one connection; the only way queries run."""

    def __init__(self, conn: psycopg.AsyncConnection[Row]) -> None:
        self.conn = conn

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        """Run a statement; returns the number of rows it touched."""
        try:
            cur = await self.conn.execute(query, params)
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
        return cur.rowcount

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        try:
            cur = await self.conn.execute(query, params)
            return await cur.fetchone()
        except psycopg.Error as exc:
            raise translate_error(exc) from exc

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        try:
            cur = await self.conn.execute(query, params)
            return await cur.fetchall()
        except psycopg.Error as exc:
            raise translate_error(exc) from exc

    async def fetch_val(self, query: LiteralString, params: Params = None) -> Any:
        """The first column of the first row, or None."""
        row = await self.fetch_one(query, params)
        return next(iter(row.values())) if row else None

    async def act_as_user(self, user_id: str, role: str = "authenticated") -> None:
        """Make the rest of this transaction run as a Supabase user, under RLS.

        Sets `request.jwt.claims` (what `auth.uid()` reads) and the role, both transaction-local.
        """
        claims = json.dumps({"sub": user_id, "role": role})
        await self.execute(
            "SELECT set_config('request.jwt.claims', %(claims)s, true), set_config('role', %(role)s, true)",
            {"claims": claims, "role": role},
        )


class Database:
    """An async connection pool bound to the event loop that opened it."""

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=10,
            kwargs={"prepare_threshold": None, "row_factory": dict_row, "autocommit": True},
            connection_class=psycopg.AsyncConnection[Row],
            configure=_configure,
        )
        self._opened = False

    async def open(self) -> None:
        if not self._opened:
            await self.pool.open()
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()
            self._opened = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A transaction: committed when the block ends, rolled back if it raises.

        Raises:
            DependencyUnavailableError: no connection could be had in time.
        """
        async with self.statements() as tx, tx.conn.transaction():
            yield tx

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[Tx]:
        """A connection in autocommit mode: each statement is its own transaction, one round trip
        (no BEGIN/COMMIT). For single statements; use `transaction()` for anything multi-step.

        Raises:
            DependencyUnavailableError: no connection could be had in time, or it broke.
        """
        await self.open()
        try:
            async with self.pool.connection() as conn:
                yield Tx(conn)
        except PoolTimeout as exc:
            raise DependencyUnavailableError("The database is busy or unavailable.") from exc
        except psycopg.OperationalError as exc:
            raise translate_error(exc) from exc

    async def execute(self, query: LiteralString, params: Params = None) -> int:
        async with self.statements() as tx:
            return await tx.execute(query, params)

    async def fetch_one(self, query: LiteralString, params: Params = None) -> Row | None:
        async with self.statements() as tx:
            return await tx.fetch_one(query, params)

    async def fetch_all(self, query: LiteralString, params: Params = None) -> list[Row]:
        async with self.statements() as tx:
            return await tx.fetch_all(query, params)

    async def fetch_val(self, query: LiteralString, params: Params = None) -> Any:
        async with self.statements() as tx:
            return await tx.fetch_val(query, params)


_db: Database | None = None
_db_loop: asyncio.AbstractEventLoop | None = None


def get_db() -> Database:
    """The process-wide database for the running event loop, created on first use.

    A pool belongs to the loop it was opened on, so a new loop (a test, a second server)
    gets a new pool rather than a broken one.

    Raises:
        ConfigurationError: DATABASE_URL is not set.
    """
    global _db, _db_loop
    loop = asyncio.get_running_loop()
    if _db is None or _db_loop is not loop:
        settings = get_settings()
        settings.require("database_url")
        assert settings.database_url is not None
        _db = Database(settings.database_url, max_size=settings.db_pool_max_size)
        _db_loop = loop
    return _db


async def close_db() -> None:
    """Close the process-wide pool (server shutdown, end of a test)."""
    global _db, _db_loop
    if _db is not None and _db_loop is asyncio.get_running_loop():
        await _db.close()
    _db, _db_loop = None, None
