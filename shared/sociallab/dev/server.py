"""`make run`: the whole product on one machine.

    python -m sociallab.dev.server [--port 8080] [--studio-port 8081] [--functions-dir DIR ...] [--no-cron]

Every configured variable is honoured; what is unset gets a local stand-in (an embedded
PostgreSQL under `.data/pg`, generated dev secrets, local file storage). Migrations are applied,
a demo workspace is seeded, every `functions/<name>/main.py` is served at `/<name>`, and a local
cron calls the scheduler-triggered functions on their cadence. The studio (`web/`) is served on its own
port, so its calls to the API are cross-origin as in production (FRONTEND_ORIGINS defaults to it).
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from sociallab import migrate
from sociallab.config import Settings, get_settings, reset_settings
from sociallab.db import close_db, get_db
from sociallab.dev import connect, cron, demo, preview, studio
from sociallab.dev.environment import ensure_database, ensure_dev_secrets
from sociallab.dev.loader import FunctionMount, LoadedFunction, load_functions
from sociallab.dev.sandboxes.start import Sandboxes, start_sandboxes
from sociallab.dev.seed import DEMO_EMAIL, DEMO_USER_ID, DEMO_WORKSPACE_ID, mint_user_token, seed_demo
from sociallab.errors import AppError, DependencyUnavailableError, NotFoundError
from sociallab.http import openapi
from sociallab.http.responses import error_response
from sociallab.logging import configure, get_logger, register_secrets

log = get_logger(__name__)
ROOT = Path(__file__).resolve().parents[3]
# Hourly jobs the demo needs rows from soon after start: seconds after start of their first call
# (insights-sync after the demo's scheduled post, due 90 s after seeding, went out).
FIRST_RUN_AFTER = {"insights-sync": 150.0}


async def health(migrations_dir: Path) -> dict[str, Any]:
    """Database reachable and every migration applied.

    Raises:
        DependencyUnavailableError: either is not the case.
    """
    try:
        await get_db().fetch_val("SELECT 1")
    except AppError as exc:
        raise DependencyUnavailableError("The database is unreachable.") from exc
    settings = get_settings()
    assert settings.database_url is not None
    waiting = await asyncio.to_thread(migrate.status, settings.database_url, migrations_dir)
    if waiting:
        raise DependencyUnavailableError(f"Migrations not applied: {', '.join(waiting)}.")
    return {"status": "ok", "database": "ok", "migrations": "current"}


def build_app(
    functions: list[LoadedFunction],
    *,
    settings: Settings,
    migrations_dir: Path = migrate.DEFAULT_DIR,
    cron_jobs: list[cron.Job] | None = None,
    sandboxes: Sandboxes | None = None,
) -> Any:
    """The dev server's ASGI app: every function under `/<name>`, plus health, OpenAPI, storage, preview."""
    document = openapi.build([f.router for f in functions if f.router])

    async def healthz(request: Request) -> Response:
        try:
            return JSONResponse(await health(migrations_dir))
        except AppError as exc:
            return error_response(exc, None)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    async def preview_page(request: Request) -> Response:
        base_url = str(request.base_url).rstrip("/")
        return HTMLResponse(await preview.page(get_db(), functions, base_url, sandboxes or Sandboxes()))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(NotFoundError(f"No such endpoint: {request.url.path}"), None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = None
        if cron_jobs:
            secret = settings.secret("scheduler_secret")
            task = asyncio.create_task(cron.run_forever(f"http://127.0.0.1:{settings.port}", cron_jobs, secret))
        yield
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await close_db()

    routes: list[Any] = [
        Route("/", preview_page),
        Route("/healthz", healthz),
        Route("/openapi.json", openapi_json),
    ]
    routes += sandboxes.mounts if sandboxes else []
    whole: list[Any] = []  # the finished app, which the dev pages call like a frontend would
    if settings.supabase_jwt_secret:  # the demo user can be signed in
        routes += connect.routes(
            lambda: whole[0],
            workspace_id=DEMO_WORKSPACE_ID,
            token=lambda: mint_user_token(settings, DEMO_USER_ID, email=DEMO_EMAIL, ttl=600),
        )
    if settings.storage_backend == "local":
        from sociallab.storage.local import local_storage_app

        routes.append(Mount("/storage", app=local_storage_app(settings)))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    whole.append(FunctionMount(functions, app))
    return whole[0]


def jobs_of(functions: list[LoadedFunction], *, at_most_every: int | None = None) -> list[cron.Job]:
    """The local cron's jobs; `at_most_every` shortens every cadence to that many seconds (browser tests)."""
    return [
        cron.Job(
            f.name,
            min(f.router.schedule_seconds, at_most_every or f.router.schedule_seconds),
            f.router.schedule_path,
            FIRST_RUN_AFTER.get(f.name),
        )
        for f in functions
        if f.router and f.router.schedule_seconds
    ]


async def prepare(data_dir: Path, base_url: str) -> tuple[Any, Sandboxes]:
    """Environment, sandboxes, database, migrations and demo data; returns the embedded server (or None)."""
    ensure_dev_secrets(data_dir)
    os.environ.setdefault("STORAGE_LOCAL_DIR", str(data_dir / "storage"))
    os.environ.setdefault("PUBLIC_BASE_URL", base_url)
    demo_token = os.environ.get("INSTAGRAM_DEMO_TOKEN", "")
    sandboxes = start_sandboxes(base_url, demo_instagram_token=demo_token, demo_photos=demo.demo_photos())
    server = await asyncio.to_thread(ensure_database, data_dir)
    reset_settings()
    settings = get_settings()
    assert settings.database_url is not None
    applied = await asyncio.to_thread(migrate.apply, settings.database_url)
    for name in applied:
        log.info("migration applied", extra={"migration": name})
    await seed_demo(get_db())
    made = await demo.seed_demo_content(get_db(), instagram_token=demo_token if sandboxes.instagram else None)
    if await demo.connect_demo_drive_folder(get_db(), sandboxes):
        made.append(f"drive source {sandboxes.drive_folder_id}")
    if made:
        log.info("demo content created", extra={"items": made})
    await close_db()
    return server, sandboxes


def banner(settings: Settings, functions: list[LoadedFunction], sandboxes: Sandboxes, studio_url: str) -> str:
    base = f"http://127.0.0.1:{settings.port}"
    lines = [
        "",
        f"SocialLab is running: studio {studio_url}/ (sign in as {DEMO_EMAIL})",
        f"  preview   {base}/",
        f"  OpenAPI   {base}/openapi.json      health {base}/healthz",
        f"  functions {', '.join(f'{base}/{f.name}' for f in functions) or '(none yet)'}",
        *sandboxes.describe(base),
    ]
    if settings.supabase_jwt_secret:
        token = mint_user_token(settings, DEMO_USER_ID, email=DEMO_EMAIL)
        lines += [f"  demo user {DEMO_EMAIL}; bearer token (30 days):", f"  {token}"]
    lines.append("Ctrl-C stops everything.\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sociallab.dev.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--studio-port", type=int, help="the studio web app's port (default: port + 1; 0: any free)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SOCIALLAB_DATA_DIR", ".data")))
    parser.add_argument("--functions-dir", type=Path, action="append", help="default: the project's functions/")
    parser.add_argument("--no-cron", action="store_true", help="do not call scheduled functions")
    parser.add_argument(
        "--cron-every", type=int, metavar="SECONDS", help="call scheduled functions at least this often"
    )
    args = parser.parse_args(argv)

    os.environ["PORT"] = str(args.port)
    configure(os.environ.get("LOG_LEVEL", "INFO"))
    api_socket = _bind(args.host, args.port)
    studio_socket = _bind(args.host, args.port + 1 if args.studio_port is None else args.studio_port)
    studio_url = f"http://127.0.0.1:{studio_socket.getsockname()[1]}"
    os.environ.setdefault("FRONTEND_ORIGINS", studio_url)
    server, sandboxes = asyncio.run(prepare(args.data_dir.resolve(), f"http://127.0.0.1:{args.port}"))
    settings = get_settings()
    register_secrets(settings.secret_values())
    functions = load_functions(args.functions_dir or [ROOT / "functions"])
    jobs = [] if args.no_cron else jobs_of(functions, at_most_every=args.cron_every)
    app = build_app(functions, settings=settings, cron_jobs=jobs, sandboxes=sandboxes)
    web = studio.studio_app(settings, api_base=f"http://127.0.0.1:{args.port}")
    if studio_url not in settings.frontend_origin_list:
        log.warning(
            "FRONTEND_ORIGINS does not list the studio; its calls will be refused", extra={"studio": studio_url}
        )
    print(banner(settings, functions, sandboxes, studio_url), flush=True)
    # A publish-due run the cron started may be waiting for a post due later in its minute: Ctrl-C ends it.
    config = uvicorn.Config(
        ByPort(app, {studio_socket.getsockname()[1]: web}),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[api_socket, studio_socket])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping on it is the normal exit
        pass
    finally:
        if server is not None:
            server.cleanup()


class ByPort:
    """One server, two origins: requests on a listed local port go to that app, the rest (and lifespan) to `api`."""

    def __init__(self, api: Any, by_port: dict[int, Any]) -> None:
        self.api = api
        self.by_port = by_port

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self.api
        if scope["type"] != "lifespan" and scope.get("server"):
            app = self.by_port.get(scope["server"][1], self.api)
        await app(scope, receive, send)


def _bind(host: str, port: int) -> socket.socket:
    """Bind the port now, so a busy port fails at once and port 0 has its number before anything starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    main()
