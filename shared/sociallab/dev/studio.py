"""`make run`'s studio server: the web app of `web/` on its own origin, plus what Supabase gives it in production.

    GET  /config.json                   where the API is, and that sign-in is the dev one
    POST /dev/auth/sign-in {email}      dev sign-in: a Supabase-style access token for a user the seed made
    GET  /dev/supabase/rest/v1/{table}  a PostgREST subset (select, eq/in filters, order, limit) run as the
                                        signed-in user under the database's own RLS policies and grants
    GET  /...                           the static files of `web/`

In production the studio is a static site: `config.json` is written at deploy time, users sign in with
Supabase Auth and rows are read from Supabase's PostgREST, so the studio's own code is the same in both.
The studio is served from another port than the API on purpose: every API call it makes is cross-origin,
as it is in production. Dev only, never deployed.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sociallab.config import Settings
from sociallab.db import get_db
from sociallab.dev.seed import mint_user_token
from sociallab.errors import AppError, AuthenticationError
from sociallab.http.router import authenticator

WEB_DIR = Path(__file__).resolve().parents[3] / "web"
# The tables the studio reads straight from Supabase; RLS and column grants decide what a user sees.
READABLE = frozenset({"workspaces", "workspace_members", "instagram_accounts", "drive_sources", "matches", "templates"})
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MAX_ROWS = 1000


class RestError(Exception):
    """A request PostgREST would refuse with 400."""


def studio_app(settings: Settings, *, api_base: str, web_dir: Path = WEB_DIR) -> Starlette:
    """The studio's ASGI app; `api_base` is where the functions are (`<api_base>/<function>/...`)."""

    async def config(request: Request) -> Response:
        origin = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "apiBase": api_base,
                "supabaseUrl": f"{origin}/dev/supabase",
                "supabaseAnonKey": "dev-anon-key",
                "devSignIn": True,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def sign_in(request: Request) -> Response:
        try:
            email = str((await request.json()).get("email", "")).strip().lower()
        except (ValueError, AttributeError):
            email = ""
        user = await get_db().fetch_one(
            "SELECT id::text AS id, email FROM auth.users WHERE lower(email) = %(email)s::text", {"email": email}
        )
        if user is None:
            return JSONResponse({"error": "No user has this email (the demo user is the seed's)."}, status_code=401)
        token = mint_user_token(settings, user["id"], email=user["email"], ttl=8 * 3600)
        return JSONResponse({"access_token": token, "user": {"id": user["id"], "email": user["email"]}})

    async def rest(request: Request) -> Response:
        try:
            user = await authenticator(settings).user(request.headers.get("authorization"))
        except AuthenticationError as exc:
            return JSONResponse({"code": "PGRST301", "message": exc.message}, status_code=401)
        try:
            query = select_statement(request.path_params["table"], list(request.query_params.multi_items()))
        except RestError as exc:
            return JSONResponse({"code": "PGRST100", "message": str(exc)}, status_code=400)
        try:
            async with get_db().transaction() as tx:
                await tx.act_as_user(user.id)
                cursor = await tx.conn.execute(query[0], query[1])
                rows = await cursor.fetchall()
        except AppError as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)
        except psycopg.Error as exc:  # a column not granted, a value of the wrong type
            return JSONResponse({"code": "42501", "message": str(exc).splitlines()[0]}, status_code=400)
        body = json.dumps(rows, default=_plain, ensure_ascii=False)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/config.json", config),
            Route("/dev/auth/sign-in", sign_in, methods=["POST"]),
            Route("/dev/supabase/rest/v1/{table}", rest, methods=["GET"]),
            Mount("/", app=StaticFiles(directory=web_dir, html=True)),
        ]
    )


def select_statement(table: str, params: list[tuple[str, str]]) -> tuple[sql.Composed, dict[str, Any]]:
    """The SELECT for a PostgREST read: `select=a,b`, `col=eq.v`, `col=in.(a,b)`, `order=col.desc`, `limit=n`.

    Raises:
        RestError: an unknown table or a parameter outside this subset.
    """
    if table not in READABLE:
        raise RestError(f"The table {table!r} is not readable here.")
    columns: list[sql.Composable] = [sql.SQL("*")]
    where: list[sql.Composable] = []
    order: list[sql.Composable] = []
    values: dict[str, Any] = {}
    limit = _MAX_ROWS
    for key, value in params:
        if key == "select":
            columns = [sql.Identifier(_name(c)) for c in value.split(",") if c.strip()]
        elif key == "order":
            for part in value.split(","):
                name, _, direction = part.partition(".")
                descending = direction.startswith("desc")
                order.append(
                    sql.SQL("{} {}").format(sql.Identifier(_name(name)), sql.SQL("DESC" if descending else "ASC"))
                )
        elif key == "limit":
            limit = min(int(value), _MAX_ROWS) if value.isdigit() else _MAX_ROWS
        else:
            operator, _, operand = value.partition(".")
            placeholder = f"p{len(values)}"
            if operator == "eq":
                where.append(sql.SQL("{}::text = {}").format(sql.Identifier(_name(key)), sql.Placeholder(placeholder)))
                values[placeholder] = operand
            elif operator == "in" and operand.startswith("(") and operand.endswith(")"):
                where.append(
                    sql.SQL("{}::text = ANY({})").format(sql.Identifier(_name(key)), sql.Placeholder(placeholder))
                )
                values[placeholder] = [v.strip().strip('"') for v in operand[1:-1].split(",") if v.strip()]
            else:
                raise RestError(f"Only eq and in filters are supported here, not {value!r} on {key!r}.")
    query = sql.SQL("SELECT {} FROM public.{}").format(sql.SQL(", ").join(columns), sql.Identifier(table))
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    if order:
        query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
    query += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    return query, values


def _plain(value: Any) -> Any:
    """JSON for what psycopg returns beside plain types, as PostgREST writes it (ISO 8601 times)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)  # UUID, Decimal


def _name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise RestError(f"{name!r} is not a column name.")
    return name
