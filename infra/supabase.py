"""The Supabase side as code: the storage bucket and its policies, and the database webhook on
public.matches (infra/README.md gives the order: migrations, terraform apply, then these).

    DATABASE_URL=<direct connection> python infra/supabase.py storage [--bucket media]
    DATABASE_URL=<direct connection> WEBHOOK_SECRET=<secret> \\
        python infra/supabase.py webhook --url "$(terraform -chdir=infra output -raw matches_webhook_url)"

The SQL is in infra/supabase/*.sql; values are quoted into it here (DDL takes no bind parameters).
The webhook secret is read from the environment, never from the command line (shell history, ps),
and never printed. Both commands are idempotent: run them again after a change (a new URL, a
rotated WEBHOOK_SECRET).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import LiteralString

import psycopg
from psycopg import sql

from sociallab.db import load_queries

SQL = Path(__file__).resolve().with_name("supabase")
# Supabase's default webhook timeout is 1000 ms: too short for a function's cold start.
DEFAULT_TIMEOUT_MS = 5000
MIN_TIMEOUT_MS = 1001


class SetupError(Exception):
    """A value the setup needs is missing or unusable; the message says which and why."""


def storage_statements(bucket: str) -> list[sql.Composed]:
    """The statements that create (or update) the private bucket and its policy.

    Raises:
        SetupError: an empty bucket name.
    """
    if not bucket.strip():
        raise SetupError("The bucket name must not be empty (STORAGE_BUCKET, default media).")
    values = {"bucket": sql.Literal(bucket), "policy": sql.Identifier(f"sociallab: {bucket} is server-only")}
    queries = load_queries(SQL / "storage.sql")
    return [sql.SQL(queries[name]).format(**values) for name in ("bucket", "policies")]


def webhook_statements(url: str, secret: str, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> list[sql.Composed]:
    """The statements that (re)create the webhook trigger on public.matches.

    Raises:
        SetupError: the URL is not https (or http to localhost), the secret is empty, or the
            timeout is not above 1 s.
    """
    local = url.startswith(("http://localhost", "http://127.0.0.1"))
    if not (url.startswith("https://") or local) or not url.rstrip("/").endswith("/webhook"):
        raise SetupError(f"--url must be generate-content's https://.../webhook (matches_webhook_url), not {url!r}.")
    if not secret:
        raise SetupError("WEBHOOK_SECRET is not set: export the value the functions use (Secret Manager).")
    if timeout_ms < MIN_TIMEOUT_MS:
        raise SetupError(f"--timeout-ms must be above 1000 (a cold start takes longer), not {timeout_ms}.")
    headers = json.dumps({"Content-Type": "application/json", "X-Webhook-Secret": secret})
    values = {"url": sql.Literal(url), "headers": sql.Literal(headers), "timeout_ms": sql.Literal(str(timeout_ms))}
    return [sql.SQL(load_queries(SQL / "webhook.sql")["webhook"]).format(**values)]


# Supabase creates supabase_functions (and pg_net) only once Database Webhooks are enabled.
WEBHOOKS_ENABLED = "SELECT to_regprocedure('supabase_functions.http_request()') IS NOT NULL"
WEBHOOKS_OFF = (
    "Database Webhooks are not enabled in this project (there is no supabase_functions.http_request): "
    "Dashboard -> Integrations -> Database Webhooks -> Enable, then run this again."
)


def apply(
    database_url: str, statements: list[sql.Composed], *, requires: tuple[LiteralString, str] | None = None
) -> None:
    """Run `statements` in one transaction, after checking `requires` (a query answering one boolean,
    and what to say when it answers false).

    Raises:
        SetupError: `requires` does not hold; nothing was changed.
        psycopg.Error: the database refused (e.g. no storage schema: not a Supabase database).
    """
    with psycopg.connect(database_url) as conn, conn.transaction():
        if requires is not None:
            query, problem = requires
            holds = conn.execute(query).fetchone()
            if not (holds and holds[0]):
                raise SetupError(problem)
        for statement in statements:
            conn.execute(statement)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python infra/supabase.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    storage = commands.add_parser("storage", help="create the private bucket and its policy")
    storage.add_argument("--bucket", default=os.environ.get("STORAGE_BUCKET") or "media")
    webhook = commands.add_parser("webhook", help="(re)create the database webhook on public.matches")
    webhook.add_argument("--url", required=True, help="terraform output -raw matches_webhook_url")
    webhook.add_argument("--timeout-ms", type=int, default=DEFAULT_TIMEOUT_MS)
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    try:
        if not database_url:
            raise SetupError("DATABASE_URL is not set: use the direct connection (port 5432), as for migrations.")
        if args.command == "storage":
            apply(database_url, storage_statements(args.bucket))
            print(f"storage: bucket {args.bucket!r} is private, server-only")
        else:
            statements = webhook_statements(args.url, os.environ.get("WEBHOOK_SECRET", ""), args.timeout_ms)
            apply(database_url, statements, requires=(WEBHOOKS_ENABLED, WEBHOOKS_OFF))
            print(f"webhook: public.matches -> {args.url} (timeout {args.timeout_ms} ms)")
    except SetupError as exc:
        print(f"supabase.py: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"supabase.py: the database refused: {exc.diag.message_primary or type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
