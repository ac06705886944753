"""`python -m bench insights`: insights-sync over 200 accounts with 30 recent media each, against the Instagram
sandbox answering every call after 100 ms.

Two runs, one JSON line each::

    {"bench": "insights_sync", "run": "first", "accounts": 200, "seconds": ..., "graph_calls_per_account": ...,
     "db_roundtrips_per_account": ..., ...}

`first` is every account's first sync (30 media, `backfill_days` + 1 days, the audience); `steady` is the
next run (the media are all younger than 48 h, so all are read again; 4 settling days; no audience, it is
read daily). `sync_cpu_seconds` is this process's CPU during the run, `sandbox_cpu_seconds` the sandbox
process's. Targets (issue 8): <= 60 s for the 200 accounts, and calls per account that fit Meta's
per-account budget beside publishing (see InsightsConfig). DB round trips are counted on the wire side
of psycopg (statements, plus BEGIN/COMMIT of transactions); Graph calls are the sandbox's own count.
The sandbox runs in a process of its own (as Instagram is not in ours), so its CPU is not the run's.

Uses DATABASE_URL or an embedded PostgreSQL. Options: `--accounts`, `--media`, `--latency` (s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bench._db import database
from bench.publish import RoundTrips, counting_database, local_environment
from sociallab.config import get_settings, reset_settings
from sociallab.dev.sandboxes.instagram import InstagramSandbox
from sociallab.insights_sync import InsightsConfig, InsightsSyncResult, insights_sync
from sociallab.insights_sync.transport import LanedTransport
from sociallab.instagram.accounts import encrypt_token
from sociallab.instagram.client import InstagramClient, new_http_client


def _serve_sandbox(port: int, latency: float) -> None:
    import uvicorn

    sandbox = InstagramSandbox(latency=latency, calls_per_hour=10**6)
    uvicorn.run(sandbox.app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", backlog=2048)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def sandbox_process(latency: float) -> Iterator[tuple[str, int]]:
    """The sandbox served by a child process on 127.0.0.1:<free port>; its base URL and pid once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = multiprocessing.get_context("spawn").Process(target=_serve_sandbox, args=(port, latency), daemon=True)
    process.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # a benchmark's start-up, not a test: wait for the child to listen
            try:
                httpx.get(f"{base_url}/_sandbox/state", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert process.pid is not None
        yield base_url, process.pid
    finally:
        process.terminate()
        process.join(timeout=10)


def graph_calls(base_url: str) -> int:
    return int(httpx.get(f"{base_url}/_sandbox/state", timeout=30).json()["calls"].get("total", 0))


async def seed(url: str, base_url: str, *, accounts: int, media: int) -> None:
    """One workspace, `accounts` accounts with encrypted tokens, each with `media` media in the last 45 h."""
    async with (
        await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
        httpx.AsyncClient(base_url=base_url, timeout=30) as sandbox,
    ):
        row = await (await conn.execute("INSERT INTO workspaces (name) VALUES ('Bench FC') RETURNING id")).fetchone()
        assert row is not None
        for n in range(accounts):
            account_id, ig_user_id, token = uuid.uuid4(), f"17841{n:010d}", f"IGQbench{uuid.uuid4().hex}"
            key_id, blob = encrypt_token(account_id, token)
            await conn.execute(
                "INSERT INTO instagram_accounts (id, workspace_id, ig_user_id, username, token_ciphertext,"
                " token_key_id, token_expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (account_id, row[0], ig_user_id, f"club{n}", blob, key_id, datetime.now(UTC) + timedelta(days=50)),
            )
            added = await sandbox.post(
                "/_sandbox/accounts", json={"ig_user_id": ig_user_id, "username": f"club{n}", "token": token}
            )
            seeded = await sandbox.post(
                "/_sandbox/media", json={"ig_user_id": ig_user_id, "count": media, "every_seconds": 45 * 3600 / media}
            )
            assert added.status_code == seeded.status_code == 201, (added.text, seeded.text)


async def one_run(url: str, config: InsightsConfig) -> tuple[float, float, InsightsSyncResult, int]:
    """(wall seconds, this process's CPU seconds, the result, DB round trips) of one insights_sync run."""
    db = counting_database(url, max_size=4)  # the function's db_pool (infra/functions.tf)
    await db.open()
    transport = LanedTransport(lanes=config.account_concurrency, connections_per_lane=config.media_concurrency)
    RoundTrips.count = 0
    try:
        async with new_http_client(transport=transport) as http:
            client = InstagramClient.from_settings(get_settings(), http)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = await insights_sync(db, client, config=config)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await db.close()
    return seconds, cpu, result, RoundTrips.count


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench insights")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--media", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args(argv)

    config = InsightsConfig(min_interval_seconds=0.0)
    ok = True
    with (
        local_environment(),
        database("bench_insights") as url,
        sandbox_process(args.latency) as (base_url, sandbox_pid),
    ):
        os.environ.update({"DATABASE_URL": url, "INSTAGRAM_GRAPH_URL": base_url, "INSTAGRAM_OAUTH_URL": base_url})
        reset_settings()
        asyncio.run(seed(url, base_url, accounts=args.accounts, media=args.media))
        for run in ("first", "steady"):
            calls_before, sandbox_cpu_before = graph_calls(base_url), cpu_seconds(sandbox_pid)
            seconds, sync_cpu, result, roundtrips = asyncio.run(one_run(url, config))
            calls, sandbox_cpu = graph_calls(base_url) - calls_before, cpu_seconds(sandbox_pid) - sandbox_cpu_before
            ok = ok and result.synced == result.accounts == args.accounts
            print(
                json.dumps(
                    {
                        "bench": "insights_sync",
                        "run": run,
                        "accounts": args.accounts,
                        "media_per_account": args.media,
                        "latency_ms": round(args.latency * 1000),
                        "seconds": round(seconds, 2),
                        "synced": result.synced,
                        "graph_calls_per_account": round(calls / max(1, args.accounts), 2),
                        "db_roundtrips_per_account": round(roundtrips / max(1, args.accounts), 2),
                        "media_rows": result.media,
                        "sync_cpu_seconds": round(sync_cpu, 2),
                        "sandbox_cpu_seconds": round(sandbox_cpu, 2),
                        "load_average_1m": round(os.getloadavg()[0], 2),
                    }
                ),
                flush=True,
            )
    return 0 if ok else 1
