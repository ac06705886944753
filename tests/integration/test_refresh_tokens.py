"""The token lifecycle: storage at rest (`sociallab.instagram.accounts`) and the `refresh-tokens` job."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sociallab.config import get_settings, reset_settings
from sociallab.crypto import DecryptionError, TokenCipher, generate_key_setting
from sociallab.db import Database
from sociallab.dev.loader import load_function
from sociallab.instagram import accounts, tokens
from sociallab.instagram.client import InstagramClient
from tests.integration.factories import create_instagram_account, create_post, create_workspace

pytestmark = pytest.mark.integration

KEY_SETTING = generate_key_setting("k1")


@pytest.fixture
def token_key(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", KEY_SETTING)
    reset_settings()
    return KEY_SETTING


FIRST_TOKEN = "IGAA-secret-token-1"


async def _stored_account(db: Database, token: str | None = None, **profile: object) -> accounts.StoredAccount:
    token = token or FIRST_TOKEN
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        return await accounts.store_token(
            tx,
            workspace_id=ws["id"],
            ig_user_id="17841400000000001",
            access_token=token,
            expires_at=datetime.now(UTC) + timedelta(days=60),
            scopes=["instagram_business_basic"],
            profile={"username": "demo_fc", **profile},
        )


# --- storage at rest --------------------------------------------------------------------------------


async def test_store_then_load_roundtrip_and_ciphertext_is_bound_to_the_row(db: Database, token_key: str) -> None:
    stored = await _stored_account(db)
    assert stored.created and stored.status == "active" and stored.username == "demo_fc"
    async with db.transaction() as tx:
        assert await accounts.load_token(tx, stored.id) == FIRST_TOKEN
        row = await tx.fetch_one(
            "SELECT token_ciphertext, token_key_id FROM instagram_accounts WHERE id = %(id)s", {"id": stored.id}
        )
        assert row is not None
        assert FIRST_TOKEN.encode() not in bytes(row["token_ciphertext"])
        assert row["token_key_id"] == "k1"
        # The same ciphertext copied onto another account does not decrypt there.
        other = await create_instagram_account(tx, stored.workspace_id)
        await tx.execute(
            "UPDATE instagram_accounts SET token_ciphertext = %(c)s, token_key_id = 'k1' WHERE id = %(id)s",
            {"c": row["token_ciphertext"], "id": other["id"]},
        )
        with pytest.raises(DecryptionError):
            await accounts.load_token(tx, other["id"])


async def test_reconnect_updates_the_same_row_and_reactivates(db: Database, token_key: str) -> None:
    first = await _stored_account(db, token="old-token-aaaaaa")
    async with db.transaction() as tx:
        await accounts.mark_reauth_required(tx, first.id, "Instagram error 190", actor="test")
        again = await accounts.store_token(
            tx,
            workspace_id=first.workspace_id,
            ig_user_id="17841400000000001",
            access_token="new-token-bbbbbb",
            expires_at=datetime.now(UTC) + timedelta(days=60),
            profile={"username": "demo_fc_renamed"},
        )
        assert again.id == first.id and not again.created
        assert again.status == "active" and again.username == "demo_fc_renamed"
        assert await accounts.load_token(tx, first.id) == "new-token-bbbbbb"
        count = await tx.fetch_val(
            "SELECT count(*) FROM instagram_accounts WHERE workspace_id = %(w)s", {"w": first.workspace_id}
        )
        assert count == 1
        unread = await tx.fetch_val(
            "SELECT count(*) FROM notifications WHERE workspace_id = %(w)s AND read_at IS NULL",
            {"w": first.workspace_id},
        )
        assert unread == 0  # the reconnect settled the "reconnect Instagram" notice


async def test_load_token_refuses_unusable_accounts(db: Database, token_key: str) -> None:
    stored = await _stored_account(db)
    async with db.transaction() as tx:
        with pytest.raises(accounts.AccountNotFoundError):
            await accounts.load_token(tx, uuid.uuid4())
        empty = await create_instagram_account(tx, stored.workspace_id, token_ciphertext=None, token_key_id=None)
        with pytest.raises(accounts.ReauthRequiredError) as no_token:
            await accounts.load_token(tx, empty["id"])
        assert no_token.value.reason == "no_token"
        await tx.execute(
            "UPDATE instagram_accounts SET token_expires_at = now() - interval '1 minute' WHERE id = %(id)s",
            {"id": stored.id},
        )
        with pytest.raises(accounts.ReauthRequiredError) as expired:
            await accounts.load_token(tx, stored.id)
        assert expired.value.reason == "token_expired"
        await accounts.mark_reauth_required(tx, stored.id, "Instagram error 190", actor="test")
        with pytest.raises(accounts.ReauthRequiredError) as reauth:
            await accounts.load_token(tx, stored.id)
        assert reauth.value.reason == "reauth_required"
        assert reauth.value.status == 409
        assert "secret" not in str(reauth.value)


async def test_mark_reauth_required_parks_scheduled_posts_and_notifies_once(db: Database, token_key: str) -> None:
    stored = await _stored_account(db)
    async with db.transaction() as tx:
        ws = stored.workspace_id
        waiting = [await create_post(tx, ws, status="scheduled", instagram_account_id=stored.id) for _ in range(2)]
        in_flight = await create_post(tx, ws, status="publishing", instagram_account_id=stored.id)
        abandoned = await create_post(tx, ws, status="publishing", instagram_account_id=stored.id)
        await tx.execute(  # its run crashed: the lease ran out
            "UPDATE posts SET lease_expires_at = now() - interval '1 minute' WHERE id = %(id)s", {"id": abandoned["id"]}
        )
        waiting.append(abandoned)
        draft = await create_post(tx, ws, status="draft", instagram_account_id=stored.id)
        other_account = await create_instagram_account(tx, ws)
        other = await create_post(tx, ws, status="scheduled", instagram_account_id=other_account["id"])

        result = await accounts.mark_reauth_required(tx, stored.id, "Instagram error 190", actor="publish-due")
        assert result.changed
        assert sorted(result.parked_post_ids) == sorted(str(p["id"]) for p in waiting)
        assert result.notification_id is not None

        statuses = {
            str(r["id"]): (r["status"], r["failure_reason"])
            for r in await tx.fetch_all(
                "SELECT id, status, failure_reason FROM posts WHERE workspace_id = %(w)s", {"w": ws}
            )
        }
        for post in waiting:
            assert statuses[str(post["id"])] == ("failed", "reauth_required")
        assert statuses[str(in_flight["id"])][0] == "publishing"
        assert statuses[str(draft["id"])][0] == "draft"
        assert statuses[str(other["id"])][0] == "scheduled"
        events = await tx.fetch_all(
            "SELECT post_id, from_status, to_status, actor, detail FROM post_events"
            " WHERE workspace_id = %(w)s AND from_status IS NOT NULL",  # changes, not the posts' creation
            {"w": ws},
        )
        assert sorted(str(e["post_id"]) for e in events) == sorted(str(p["id"]) for p in waiting)
        assert {str(e["post_id"]): e["from_status"] for e in events}[str(abandoned["id"])] == "publishing"
        assert all(e["to_status"] == "failed" for e in events)
        assert all(e["actor"] == "publish-due" and e["detail"]["reason"] == "reauth_required" for e in events)
        account = await tx.fetch_one(
            "SELECT status, status_reason FROM instagram_accounts WHERE id = %(id)s", {"id": stored.id}
        )
        assert account == {"status": "reauth_required", "status_reason": "Instagram error 190"}

        again = await accounts.mark_reauth_required(tx, stored.id, "Instagram error 190", actor="publish-due")
        assert not again.changed and again.parked_post_ids == [] and again.notification_id is None
        notes = await tx.fetch_all(
            "SELECT kind, severity, message, detail FROM notifications WHERE workspace_id = %(w)s", {"w": ws}
        )
        assert len(notes) == 1
        assert notes[0]["kind"] == "instagram.reauth_required" and "@demo_fc" in notes[0]["message"]
        assert notes[0]["detail"]["instagram_account_id"] == stored.id


# --- the refresh job --------------------------------------------------------------------------------------

DAY = 86400
OLD_KEY = generate_key_setting("k0")
NEW_KEY = generate_key_setting("k1")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Seeded:
    workspace_id: Any
    ids: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture
def sandbox_env(instagram_sandbox: Any, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Any:
    box, base_url = instagram_sandbox
    monkeypatch.setenv("INSTAGRAM_GRAPH_URL", base_url)
    monkeypatch.setenv("INSTAGRAM_OAUTH_URL", base_url)
    monkeypatch.setenv("SCHEDULER_SECRET", "scheduler-secret")
    # Rotation in progress: k1 is the current key, k0 still decrypts.
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", f"{NEW_KEY},{OLD_KEY}")
    reset_settings()
    return box


async def _seed(db: Database, box: Any, specs: dict[str, dict[str, Any]]) -> Seeded:
    """One account per spec: `age` (days since the token was issued/refreshed), `expires` (days from now),
    optional `status`, `key` (cipher setting it was encrypted with)."""
    now = time.time()
    ids, tokens = {}, {}
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        for number, (name, spec) in enumerate(specs.items()):
            ig_user_id = f"1784140000{number:07d}"
            token = f"IGQ-{name}-{uuid.uuid4().hex}"
            issued = now - spec["age"] * DAY
            box.add_account(
                ig_user_id=ig_user_id,
                username=name,
                token=token,
                issued_at=issued,
                expires_in=int((spec["age"] + spec["expires"]) * DAY),
            )
            account = await create_instagram_account(
                tx,
                ws["id"],
                ig_user_id=ig_user_id,
                username=name,
                status=spec.get("status", "active"),
                token_expires_at=datetime.fromtimestamp(now + spec["expires"] * DAY, UTC),
                token_refreshed_at=datetime.fromtimestamp(issued, UTC),
            )
            cipher = TokenCipher.from_setting(spec.get("key", NEW_KEY))
            key_id, blob = accounts.encrypt_token(account["id"], token, cipher=cipher)
            await tx.execute(
                "UPDATE instagram_accounts SET token_ciphertext = %(c)s, token_key_id = %(k)s WHERE id = %(id)s",
                {"c": blob, "k": key_id, "id": account["id"]},
            )
            ids[name], tokens[name] = str(account["id"]), token
    return Seeded(ws["id"], ids, tokens)


async def _rows(db: Database, seeded: Seeded) -> dict[str, dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT id, username, status, status_reason, token_key_id, token_ciphertext, token_expires_at,"
        " token_refreshed_at FROM instagram_accounts WHERE workspace_id = %(w)s",
        {"w": seeded.workspace_id},
    )
    return {r["username"]: r for r in rows}


async def _token(db: Database, account_id: str) -> str:
    async with db.transaction() as tx:
        return await accounts.load_token(tx, account_id)


async def _run(db: Database) -> tokens.RefreshResult:
    async with httpx.AsyncClient(timeout=5) as http:
        return await tokens.refresh_tokens(db, InstagramClient.from_settings(get_settings(), http))


SPECS = {
    "eligible": {"age": 50, "expires": 10},
    "eligible_old_key": {"age": 46, "expires": 14, "key": OLD_KEY},
    "fresh": {"age": 0.5, "expires": 10},  # < 24 h since the last refresh
    "far": {"age": 10, "expires": 50},  # not expiring soon
    "expired": {"age": 61, "expires": -1},
    "parked": {"age": 50, "expires": 10, "status": "reauth_required"},
    "far_old_key": {"age": 10, "expires": 50, "key": OLD_KEY},
}


async def test_refreshes_only_eligible_tokens_and_reencrypts(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, SPECS)
    before = await _rows(db, seeded)
    result = await _run(db)
    assert (result.considered, result.refreshed, result.reauth_required, result.failed) == (2, 2, 0, 0)
    assert result.reencrypted == 2  # the refreshed old-key token and the idle old-key one
    assert sandbox_env.calls["token"] == 2
    after = await _rows(db, seeded)
    now = time.time()
    for name in ("eligible", "eligible_old_key"):
        token = await _token(db, seeded.ids[name])
        assert token != seeded.tokens[name]  # a new token, which Instagram accepts
        assert after[name]["token_key_id"] == "k1"
        assert 59.9 < (after[name]["token_expires_at"].timestamp() - now) / DAY <= 60
        assert now - after[name]["token_refreshed_at"].timestamp() < 60
        async with httpx.AsyncClient(timeout=5) as http:
            profile = await InstagramClient.from_settings(get_settings(), http).me(token)
        assert profile.username == name
    for name in ("fresh", "far", "expired", "parked"):
        assert bytes(after[name]["token_ciphertext"]) == bytes(before[name]["token_ciphertext"])
        assert after[name]["token_expires_at"] == before[name]["token_expires_at"]
    # Rotated without a refresh: same token, current key.
    assert after["far_old_key"]["token_key_id"] == "k1"
    assert await _token(db, seeded.ids["far_old_key"]) == seeded.tokens["far_old_key"]
    assert after["far_old_key"]["token_expires_at"] == before["far_old_key"]["token_expires_at"]


async def test_second_run_the_same_day_is_a_noop(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, {"eligible": SPECS["eligible"], "other": SPECS["eligible"]})
    first = await _run(db)
    assert first.refreshed == 2 and not first.already_ran
    snapshot = await _rows(db, seeded)
    calls = sandbox_env.calls["token"]
    second = await _run(db)
    assert second.already_ran and second.refreshed == 0 and second.considered == 0
    assert sandbox_env.calls["token"] == calls
    assert await _rows(db, seeded) == snapshot
    receipt = await db.fetch_one(
        "SELECT processed_at, result FROM webhook_receipts WHERE source = 'scheduler.refresh-tokens'"
    )
    assert receipt is not None and receipt["processed_at"] is not None
    assert receipt["result"]["refreshed"] == 2


async def test_a_crashed_run_can_be_taken_over_later_the_same_day(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, {"eligible": SPECS["eligible"]})
    day = datetime.now(UTC).date().isoformat()
    # A run that claimed the day 20 minutes ago and never finished.
    await db.execute(
        "INSERT INTO webhook_receipts (source, delivery_key, received_at)"
        " VALUES ('scheduler.refresh-tokens', %(d)s, now() - interval '20 minutes')",
        {"d": day},
    )
    result = await _run(db)
    assert not result.already_ran and result.refreshed == 1
    assert (await _rows(db, seeded))["eligible"]["token_key_id"] == "k1"


async def test_invalid_token_on_refresh_parks_and_notifies(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, {"revoked": SPECS["eligible"], "fine": SPECS["eligible"]})
    async with db.transaction() as tx:
        posts = [
            await create_post(tx, seeded.workspace_id, status="scheduled", instagram_account_id=seeded.ids["revoked"])
            for _ in range(3)
        ]
        kept = await create_post(tx, seeded.workspace_id, status="scheduled", instagram_account_id=seeded.ids["fine"])
    sandbox_env.revoke_tokens("17841400000000000")  # the first seeded account
    before = await _rows(db, seeded)
    result = await _run(db)
    assert (result.refreshed, result.reauth_required, result.failed) == (1, 1, 0)
    after = await _rows(db, seeded)
    assert after["revoked"]["status"] == "reauth_required"
    assert "190" in after["revoked"]["status_reason"]
    assert bytes(after["revoked"]["token_ciphertext"]) == bytes(before["revoked"]["token_ciphertext"])
    statuses = await db.fetch_all(
        "SELECT id, status, failure_reason FROM posts WHERE workspace_id = %(w)s", {"w": seeded.workspace_id}
    )
    by_id = {str(r["id"]): (r["status"], r["failure_reason"]) for r in statuses}
    for post in posts:
        assert by_id[str(post["id"])] == ("failed", "reauth_required")
    assert by_id[str(kept["id"])] == ("scheduled", None)
    notes = await db.fetch_all(
        "SELECT kind, detail FROM notifications WHERE workspace_id = %(w)s", {"w": seeded.workspace_id}
    )
    assert [(n["kind"], n["detail"]["instagram_account_id"]) for n in notes] == [
        ("instagram.reauth_required", seeded.ids["revoked"])
    ]


async def test_other_errors_keep_the_token_and_are_recorded(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, {"flaky": {"age": 58, "expires": 2}, "fine": SPECS["eligible"]})
    sandbox_env.faults.add(
        kind="token", code=2, http_status=503, message="Service temporarily unavailable", ig_user_id="17841400000000000"
    )
    before = await _rows(db, seeded)
    result = await _run(db)
    assert (result.refreshed, result.reauth_required, result.failed) == (1, 0, 1)
    assert result.failures[0]["instagram_account_id"] == seeded.ids["flaky"]
    after = await _rows(db, seeded)
    assert after["flaky"]["status"] == "active"
    assert bytes(after["flaky"]["token_ciphertext"]) == bytes(before["flaky"]["token_ciphertext"])
    assert await _token(db, seeded.ids["flaky"]) == seeded.tokens["flaky"]
    receipt = await db.fetch_val("SELECT result FROM webhook_receipts WHERE source = 'scheduler.refresh-tokens'")
    assert receipt["failed"] == 1 and receipt["failures"][0]["instagram_account_id"] == seeded.ids["flaky"]
    # It expires within 3 days: the workspace is warned, once.
    notes = await db.fetch_all(
        "SELECT kind, severity FROM notifications WHERE workspace_id = %(w)s", {"w": seeded.workspace_id}
    )
    assert [(n["kind"], n["severity"]) for n in notes] == [("instagram.token_expiring", "warning")]


async def test_refresh_does_not_overwrite_a_token_written_meanwhile(db: Database, sandbox_env: Any) -> None:
    seeded = await _seed(db, sandbox_env, {"eligible": SPECS["eligible"]})
    row = (await _rows(db, seeded))["eligible"]
    async with db.transaction() as tx:  # a reconnect lands after the job read the row
        await accounts.store_token(
            tx,
            workspace_id=seeded.workspace_id,
            ig_user_id="17841400000000000",
            access_token="reconnected-token-zzz",
            expires_at=datetime.now(UTC) + timedelta(days=60),
        )
        written = await accounts.replace_token(
            tx,
            seeded.ids["eligible"],
            "stale-refresh-token",
            datetime.now(UTC) + timedelta(days=60),
            seen_refreshed_at=row["token_refreshed_at"],
        )
    assert not written
    assert await _token(db, seeded.ids["eligible"]) == "reconnected-token-zzz"


async def test_function_over_http_needs_the_scheduler(db: Database, sandbox_env: Any) -> None:
    await _seed(db, sandbox_env, {"eligible": SPECS["eligible"]})
    function = load_function(ROOT / "functions" / "refresh-tokens" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://test") as api:
        refused = await api.post("/")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
        ok = await api.post("/", headers={"Authorization": "Bearer scheduler-secret"})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["refreshed"] == 1 and body["already_ran"] is False
        assert "IGQ" not in ok.text
        again = await api.post("/", headers={"Authorization": "Bearer scheduler-secret"})
        assert again.json()["already_ran"] is True and again.json()["refreshed"] == 0
