"""`python -m bench publish`: drain 1,000 due posts over 200 accounts with 4 concurrent publish-due runs
against the Instagram sandbox answering every call after 100 ms.

Prints one JSON line::

    {"bench": "publish_due.drain", "posts": 1000, "seconds": ..., "db_roundtrips_per_post": ...,
     "api_calls_per_post": ..., ...}

Targets (issue 3): drained within one 60 s tick, <= 6 DB round trips and <= 4 Graph calls per
single-image post. DB round trips are counted on the wire side of psycopg: every statement sent, plus
BEGIN and COMMIT of explicit transactions. Graph calls are the sandbox's own count.

Uses DATABASE_URL (a server it may create a database on) or starts an embedded PostgreSQL (pgserver)
in a temporary folder. Options: `--posts`, `--accounts`, `--runs`, `--latency` (s), `--ready-after`
(s until a container is FINISHED), `--concurrency` (accounts per run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from bench._db import database
from sociallab.config import get_settings, reset_settings
from sociallab.crypto import generate_key_setting
from sociallab.db import Database
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from sociallab.instagram.accounts import encrypt_token
from sociallab.instagram.client import InstagramClient, new_http_client
from sociallab.publishing import PublisherConfig, publish_due
from sociallab.storage import close_storage, get_storage

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


class RoundTrips:
    count = 0


class CountingConnection(psycopg.AsyncConnection[Any]):
    """An async connection that counts what it sends: each statement, and BEGIN/COMMIT of transactions."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        RoundTrips.count += 1
        return await super().execute(*args, **kwargs)

    @asynccontextmanager
    async def transaction(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        RoundTrips.count += 2
        async with super().transaction(*args, **kwargs) as tx:
            yield tx


def counting_database(url: str, max_size: int) -> Database:
    db = Database(url, max_size=max_size)
    db.pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=30,
        kwargs={"prepare_threshold": None, "row_factory": dict_row, "autocommit": True},
        connection_class=CountingConnection,
    )
    return db


@contextmanager
def serve(sandbox: InstagramSandbox) -> Iterator[str]:
    """The sandbox on 127.0.0.1:<free port>, in a thread; the socket listens before the thread starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="critical", lifespan="off", backlog=2048))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def local_environment() -> Iterator[None]:
    """What publishing needs besides the database and Instagram: a token key and local storage."""
    storage_dir = tempfile.mkdtemp(prefix="sociallab-bench-storage-")
    os.environ.update(
        {
            "TOKEN_ENCRYPTION_KEY": generate_key_setting("bench"),
            "STORAGE_BACKEND": "local",
            "STORAGE_LOCAL_DIR": storage_dir,
            "URL_SIGNING_KEY": "bench-url-signing-key",
            "PUBLISHING_ENABLED": "true",
        }
    )
    try:
        yield
    finally:
        shutil.rmtree(storage_dir, ignore_errors=True)


async def seed(url: str, sandbox: InstagramSandbox, *, accounts: int, schedule: list[tuple[int, datetime]]) -> None:
    """One workspace, `accounts` accounts with encrypted tokens, and one scheduled single-image post (stored)
    per (account number, time) of `schedule`, captioned `bench post <n>` in its order."""
    storage = get_storage()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute("INSERT INTO workspaces (name) VALUES ('Bench FC') RETURNING id")).fetchone()
        assert row is not None
        workspace = row[0]
        ids = []
        for n in range(accounts):
            account_id, ig_user_id, token = uuid.uuid4(), f"17841{n:010d}", f"IGQbench{uuid.uuid4().hex}"
            key_id, blob = encrypt_token(account_id, token)
            await conn.execute(
                "INSERT INTO instagram_accounts (id, workspace_id, ig_user_id, username, token_ciphertext,"
                " token_key_id, token_expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (account_id, workspace, ig_user_id, f"club{n}", blob, key_id, datetime.now(UTC) + timedelta(days=50)),
            )
            sandbox.add_account(ig_user_id=ig_user_id, username=f"club{n}", token=token)
            ids.append(account_id)
        for n, (account, at) in enumerate(schedule):
            post_id = uuid.uuid4()
            path = f"{workspace}/posts/{post_id}/0.jpg"
            await storage.put(path, JPEG, "image/jpeg")
            await conn.execute(
                "INSERT INTO posts (id, workspace_id, instagram_account_id, status, media_type, caption, scheduled_at)"
                " VALUES (%s, %s, %s, 'scheduled', 'IMAGE', %s, %s)",
                (post_id, workspace, ids[account], f"bench post {n}", at),
            )
            await conn.execute(
                "INSERT INTO post_media (post_id, workspace_id, position, storage_path, width, height)"
                " VALUES (%s, %s, 0, %s, 1080, 1350)",
                (post_id, workspace, path),
            )


async def drain(url: str, runs: int, concurrency: int) -> tuple[float, list[Any]]:
    settings = get_settings()
    pools = [counting_database(url, max_size=10) for _ in range(runs)]
    https = [new_http_client(limits=httpx.Limits(max_connections=200)) for _ in range(runs)]
    for pool in pools:
        await pool.open()
    config = PublisherConfig(concurrency=concurrency)
    storage = get_storage()
    RoundTrips.count = 0
    started = time.perf_counter()
    try:
        results = await asyncio.gather(
            *(
                publish_due(
                    pool,
                    InstagramClient.from_settings(settings, http),
                    storage=storage,
                    settings=settings,
                    config=config,
                )
                for pool, http in zip(pools, https, strict=True)
            )
        )
    finally:
        seconds = time.perf_counter() - started
        for pool in pools:
            await pool.close()
        for http in https:
            await http.aclose()
    return seconds, results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench publish")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--ready-after", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=PublisherConfig().concurrency)
    args = parser.parse_args(argv)

    sandbox = InstagramSandbox(latency=args.latency, container_ready_after=args.ready_after, calls_per_hour=10**6)
    now = datetime.now(UTC)
    schedule = [(n % args.accounts, now - timedelta(seconds=args.posts - n)) for n in range(args.posts)]
    with local_environment(), database("bench_publish") as url, serve(sandbox) as base_url:
        os.environ.update({"DATABASE_URL": url, "INSTAGRAM_GRAPH_URL": base_url, "INSTAGRAM_OAUTH_URL": base_url})
        reset_settings()
        asyncio.run(seed(url, sandbox, accounts=args.accounts, schedule=schedule))
        seconds, results = asyncio.run(_drain_and_close(url, args.runs, args.concurrency))
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM posts WHERE status = 'published'").fetchone()
            published = row[0] if row else 0
    twice = sum(1 for count in sandbox.publishes_by_caption().values() if count > 1)
    api_calls = {k: v for k, v in sandbox.calls.items() if k != "total"}
    print(
        json.dumps(
            {
                "bench": "publish_due.drain",
                "posts": args.posts,
                "accounts": args.accounts,
                "runs": args.runs,
                "latency_ms": round(args.latency * 1000),
                "container_ready_after_s": args.ready_after,
                "seconds": round(seconds, 2),
                "published": published,
                "published_twice": twice,
                "db_roundtrips_per_post": round(RoundTrips.count / max(1, published), 2),
                "api_calls_per_post": round(sandbox.calls["total"] / max(1, published), 2),
                "api_calls": api_calls,
                "per_run_published": [r.published for r in results],
            }
        )
    )
    return 0 if published == args.posts and twice == 0 else 1


async def _drain_and_close(url: str, runs: int, concurrency: int) -> tuple[float, list[Any]]:
    try:
        return await drain(url, runs, concurrency)
    finally:
        await close_storage()
