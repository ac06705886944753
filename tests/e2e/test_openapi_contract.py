"""The OpenAPI document is what the functions answer: Schemathesis with every check, against `make run`.

The dev server runs as `make run` starts it (its own process, the demo workspace, the Instagram and
Drive sandboxes; no cron), and `schemathesis run <server>/openapi.json --checks all` is pointed at
it with the demo owner's bearer token, the other callers' credentials (the scheduler's secret on
scheduler routes, the webhook secret, a Drive channel's headers) and ids that exist, so requests
reach the handlers instead of stopping at a 404. Examples are bounded and the run is derandomised
(`generation.deterministic`, no example database), so CI sees the same run every time.

Body fields that must name existing rows go to the hooks, not to Schemathesis's `body.*` parameters:
4.32 leaves those out of its coverage phase and, on a multipart body, puts a pinned field back into a
case generated without it while still counting the case as invalid. What no schema can say is
supplied by `tests/e2e/contract_hooks.py`; see its docstring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest

from sociallab.dev.seed import DEMO_FINISHED_MATCH_ID, DEMO_WORKSPACE_ID
from tests.e2e.conftest import ROOT, DevServer, start_devserver, wait_healthy

pytestmark = pytest.mark.e2e

SCHEDULER_SECRET = "contract-scheduler-secret"
WEBHOOK_SECRET = "contract-webhook-secret"
CHANNEL_ID = "contract-channel"
CHANNEL_TOKEN = "contract-channel-token"
MAX_EXAMPLES = 12


def demo_token(server: DevServer) -> str:
    server.wait_for_line("bearer token")
    return server.next_line().strip()


def toml_value(value: Any) -> str:
    return json.dumps(value)  # JSON strings and arrays of strings are valid TOML


def write_config(path: Path, *, token: str, ids: dict[str, Any]) -> None:
    """schemathesis.toml: credentials per caller, and the ids that exist pinned for every operation."""
    lines = [
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        'database = "none"',
        "[headers]",
        f'Authorization = "Bearer {token}"',
        f'X-Webhook-Secret = "{WEBHOOK_SECRET}"',
        "[parameters]",
        *(f"{toml_value(key)} = {toml_value(value)}" for key, value in ids.items() if not key.startswith("body.")),
    ]
    # Scheduler routes are called with the scheduler's credential instead of being skipped. drive-sync's
    # POST / accepts the scheduler or a user; a user must name `source_id` (OpenAPI cannot tie a body to
    # the credential), so it runs as the scheduler, for which every schema-valid body is valid.
    for operation_id in (
        "publish-due:post:/",
        "insights-sync:post:/",
        "refresh-tokens:post:/",
        "housekeeping:post:/",
        "drive-sync:post:/",
    ):
        lines += [
            "[[operations]]",
            f"include-operation-id = {toml_value(operation_id)}",
            f'headers = {{ Authorization = "Bearer {SCHEDULER_SECRET}" }}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def seed_ids(server: DevServer, database_url: str, token: str) -> dict[str, Any]:
    """Ids of rows that exist, for the parameters Schemathesis would otherwise draw at random."""
    user = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=user, timeout=30) as client:
        start = client.get("/instagram-auth/start", params={"workspace_id": DEMO_WORKSPACE_ID})
        assert start.status_code == 200, start.text
        state = parse_qs(urlparse(start.json()["authorize_url"]).query)["state"][0]
        page = client.get("/posts/", params={"workspace_id": DEMO_WORKSPACE_ID, "limit": 1})
        cursor = page.json()["next_cursor"]  # assets and posts read the same cursor format
        assert cursor, page.text
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The demo post due in 90 s would make a publish-due call wait for its time (a run takes the posts
        # of its minute and publishes each at its time): move it out of reach, a contract is not a tick.
        conn.execute("UPDATE posts SET scheduled_at = now() + interval '1 day' WHERE status = 'scheduled'")
        # The demo folder, connected and verified by the seed; a push channel on it for the notifications.
        source = conn.execute(
            "UPDATE drive_sources SET channel_id = %s, channel_token = %s WHERE workspace_id = %s"
            " RETURNING id, folder_id",
            (CHANNEL_ID, CHANNEL_TOKEN, DEMO_WORKSPACE_ID),
        ).fetchone()
        account = conn.execute("SELECT id FROM instagram_accounts").fetchone()
        assets = [row[0] for row in conn.execute("SELECT id FROM media_assets ORDER BY created_at")]
        draft = conn.execute("SELECT id FROM posts WHERE status = 'draft' ORDER BY created_at").fetchone()
    assert source and account and draft and len(assets) >= 2
    return {
        "workspace_id": DEMO_WORKSPACE_ID,
        "body.workspace_id": DEMO_WORKSPACE_ID,
        "instagram_account_id": str(account[0]),
        "account_id": str(account[0]),
        "body.instagram_account_id": str(account[0]),
        "body.asset_ids": [str(assets[0])],
        "body.match_id": DEMO_FINISHED_MATCH_ID,
        "match_id": DEMO_FINISHED_MATCH_ID,
        "body.source_id": str(source[0]),
        "body.folder_id": source[1],
        "source_id": str(source[0]),
        "post_id": str(draft[0]),
        "asset_id": str(assets[-1]),
        # Names that exist, like ids: a template for the content type, a media type the one photo suits.
        "body.content_type": "match_result",
        "body.template_key": "match_result",
        "body.media_type": "IMAGE",
        "state": state,
        "cursor": cursor,
        "redirect_to": "/settings/instagram",
        "X-Goog-Channel-Id": CHANNEL_ID,
        "X-Goog-Channel-Token": CHANNEL_TOKEN,
    }


def test_every_operation_answers_as_documented(database_url: str, tmp_path: Path) -> None:
    server = start_devserver(
        tmp_path / "data",
        {
            "DATABASE_URL": database_url,
            "SCHEDULER_SECRET": SCHEDULER_SECRET,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "RATE_LIMIT_PER_MINUTE": "100000",
        },
        "--functions-dir",
        str(ROOT / "functions"),
        "--no-cron",
    )
    try:
        wait_healthy(server)
        token = demo_token(server)
        ids = seed_ids(server, database_url, token)
        config = tmp_path / "schemathesis.toml"
        write_config(config, token=token, ids=ids)
        started = time.monotonic()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(config),
                "run",
                f"{server.base_url}/openapi.json",
                "--checks",
                "all",
                "--no-color",
            ],
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.e2e.contract_hooks",
                "CONTRACT_BODY_VALUES": json.dumps({k[5:]: v for k, v in ids.items() if k.startswith("body.")}),
                "CONTRACT_BASE_URL": server.base_url,
                "CONTRACT_TOKEN": token,
                "CONTRACT_WORKSPACE": DEMO_WORKSPACE_ID,
                "PYTHONPATH": str(ROOT),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(f"schemathesis took {time.monotonic() - started:.1f} s")
        print(run.stdout[-20000:])
        assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    finally:
        server.stop()
