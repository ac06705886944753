"""housekeeping over HTTP (the function in-process, as Cloud Scheduler calls it): what is old goes, what may
still be needed stays, and a second run finds nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sociallab.config import reset_settings
from sociallab.db import Database
from sociallab.dev.loader import load_function
from tests.integration import factories

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


async def test_old_counters_receipts_and_states_are_deleted_and_nothing_else(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_SECRET", "cron-secret")
    reset_settings()
    async with db.transaction() as tx:
        ws = await factories.create_workspace(tx)
        owner = await factories.create_member(tx, ws["id"], "owner")
        for scope, key, age in [
            ("http:user", "u1", "3 days"),
            ("gemini", "calls", "3 days"),
            ("gemini", f"workspace:{ws['id']}", "50 hours"),
            ("http:user", "u1", "5 minutes"),  # stays: the current windows
            ("gemini", "calls", "20 hours"),
        ]:
            await tx.execute(
                "INSERT INTO usage_counters (scope, key, window_start, count)"
                " VALUES (%(s)s, %(k)s, now() - %(a)s::interval, 3)",
                {"s": scope, "k": key, "a": age},
            )
        for key, age in [("old", "31 days"), ("recent", "29 days")]:
            await tx.execute(
                "INSERT INTO webhook_receipts (source, delivery_key, received_at)"
                " VALUES ('supabase.matches', %(k)s, now() - %(a)s::interval)",
                {"k": key, "a": age},
            )
        for nonce, expired in [("gone", "25 hours"), ("kept", "2 hours"), ("live", "-5 minutes")]:
            await tx.execute(
                "INSERT INTO oauth_states (nonce, workspace_id, user_id, expires_at)"
                " VALUES (%(n)s, %(w)s, %(u)s, now() - %(e)s::interval)",
                {"n": nonce, "w": ws["id"], "u": owner["id"], "e": expired},
            )

    function = load_function(ROOT / "functions" / "housekeeping" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://hk") as client:
        assert (await client.post("/", json={})).status_code == 401
        first = await client.post("/", json={}, headers={"Authorization": "Bearer cron-secret"})
        again = await client.post("/", json={}, headers={"Authorization": "Bearer cron-secret"})
    assert first.status_code == 200, first.text
    assert first.json() == {"usage_counters": 3, "webhook_receipts": 1, "oauth_states": 1}
    assert again.json() == {"usage_counters": 0, "webhook_receipts": 0, "oauth_states": 0}
    left = await db.fetch_all("SELECT scope, key FROM usage_counters ORDER BY scope")
    assert [(r["scope"], r["key"]) for r in left] == [("gemini", "calls"), ("http:user", "u1")]
    assert await db.fetch_val("SELECT array_agg(delivery_key) FROM webhook_receipts") == ["recent"]
    assert sorted(await db.fetch_val("SELECT array_agg(nonce) FROM oauth_states")) == ["kept", "live"]
