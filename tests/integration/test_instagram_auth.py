"""instagram-auth over HTTP: the function in-process, Instagram as the sandbox over real HTTP, a real database."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sociallab.config import Settings, get_settings, reset_settings
from sociallab.crypto import generate_key_setting
from sociallab.db import Database
from sociallab.dev.loader import load_function
from sociallab.instagram import accounts
from sociallab.instagram.client import InstagramClient
from sociallab.instagram.oauth import LoginState, make_state
from sociallab.logging import JsonFormatter
from tests.integration.factories import create_member, create_workspace
from tests.plugins.instagram import SANDBOX_APP_ID as APP_ID
from tests.plugins.instagram import SANDBOX_APP_SECRET as APP_SECRET

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-hs256-secret-that-is-long-enough"
FRONTEND = "https://app.sociallab.test"
IG_USER = "17841400000000777"


def bearer(user_id: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user_id), "aud": "authenticated", "role": "authenticated", "exp": now + 600, "iat": now}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


@pytest.fixture
def sandbox(instagram_sandbox: Any, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Any:
    box, _base_url = instagram_sandbox  # the plugin points INSTAGRAM_* (app id/secret, URLs) at it
    for name, value in {
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "TOKEN_ENCRYPTION_KEY": generate_key_setting("k1"),
        "PUBLIC_BASE_URL": FRONTEND,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    box.add_account(ig_user_id=IG_USER, username="demo_fc", token="IGQ-seeded-" + uuid.uuid4().hex)
    return box


@pytest.fixture
async def api(sandbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    function = load_function(ROOT / "functions" / "instagram-auth" / "main.py")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=function.app), base_url="http://test") as client:
        yield client


@pytest.fixture
async def people(db: Database) -> dict[str, Any]:
    async with db.transaction() as tx:
        ws = await create_workspace(tx)
        owner = await create_member(tx, ws["id"], "owner")
        editor = await create_member(tx, ws["id"], "editor")
    return {"workspace": str(ws["id"]), "owner": owner["id"], "editor": editor["id"]}


async def start(api: httpx.AsyncClient, people: dict[str, Any], redirect_to: str = "/settings/instagram") -> str:
    response = await api.get(
        "/start",
        params={"workspace_id": people["workspace"], "redirect_to": redirect_to},
        headers=bearer(people["owner"]),
    )
    assert response.status_code == 200, response.text
    url = response.json()["authorize_url"]
    return parse_qs(urlsplit(url).query)["state"][0]


async def complete(api: httpx.AsyncClient, user: Any, **body: str) -> httpx.Response:
    return await api.post("/complete", json=body, headers=bearer(user))


async def connect(api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any]) -> dict[str, Any]:
    """The whole flow for the owner; the connected account."""
    response = await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=await start(api, people))
    assert response.status_code == 201, response.text
    return response.json()


async def account_row(db: Database, workspace_id: str) -> list[dict[str, Any]]:
    return await db.fetch_all(
        "SELECT id, ig_user_id, username, status, token_ciphertext, token_key_id, token_expires_at, scopes,"
        " connected_by FROM instagram_accounts WHERE workspace_id = %(w)s",
        {"w": workspace_id},
    )


async def stored_token(db: Database, account_id: Any) -> str:
    async with db.transaction() as tx:
        return await accounts.load_token(tx, account_id)


def envelope(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return str(response.json()["error"]["message"])


# --- the happy path --------------------------------------------------------------------------------------


async def test_full_flow_through_the_callback_connects_the_account(
    api: httpx.AsyncClient, sandbox: Any, instagram_sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    response = await api.get(
        "/start",
        params={"workspace_id": people["workspace"], "redirect_to": "/settings/instagram"},
        headers=bearer(people["owner"]),
    )
    assert response.status_code == 200
    authorize = urlsplit(response.json()["authorize_url"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == instagram_sandbox[1] + "/oauth/authorize"
    assert query["client_id"] == [APP_ID] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [FRONTEND + "/instagram-auth/callback"]
    assert set(query["scope"][0].split(",")) == {
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_insights",
        "instagram_business_manage_comments",
    }

    # The consent page (the sandbox's) sends the browser back to the registered callback with a code and the
    # state; the callback only forwards both to the frontend page named at /start.
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(response.json()["authorize_url"] + "&ig_user_id=" + IG_USER)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == FRONTEND + "/instagram-auth/callback"
    exchanges = sandbox.calls["token"]
    forwarded = await api.get("/callback?" + back.query)
    assert forwarded.status_code == 302 and forwarded.headers["cache-control"] == "no-store"
    page = urlsplit(forwarded.headers["location"])
    assert f"{page.scheme}://{page.netloc}{page.path}" == FRONTEND + "/settings/instagram"
    params = {k: v[0] for k, v in parse_qs(page.query).items()}
    assert set(params) == {"code", "state"}
    assert sandbox.calls["token"] == exchanges and await account_row(db, people["workspace"]) == []

    # That page completes the login with the signed-in user's own token.
    done = await complete(api, people["owner"], **params)
    assert done.status_code == 201, done.text
    body = done.json()
    [row] = await account_row(db, people["workspace"])
    assert body["id"] == str(row["id"]) and body["workspace_id"] == people["workspace"]
    assert (body["ig_user_id"], body["username"], body["status"]) == (IG_USER, "demo_fc", "active")
    assert body["redirect_to"] == FRONTEND + "/settings/instagram"
    assert row["ig_user_id"] == IG_USER and row["username"] == "demo_fc" and row["status"] == "active"
    assert row["token_key_id"] == "k1" and row["connected_by"] == people["owner"]
    assert "instagram_business_content_publish" in row["scopes"]
    days = (row["token_expires_at"].timestamp() - time.time()) / 86400
    assert 59 < days <= 60
    # The stored token is the long-lived one Instagram issued: it works against the API.
    token = await stored_token(db, row["id"])
    assert token.encode() not in bytes(row["token_ciphertext"])
    async with httpx.AsyncClient() as http:
        profile = await InstagramClient.from_settings(get_settings(), http).me(token)
    assert profile.ig_user_id == IG_USER


async def test_instagram_can_send_the_browser_straight_to_a_frontend_page(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("INSTAGRAM_REDIRECT_URI", FRONTEND + "/instagram/return")
    reset_settings()
    started = await api.get("/start", params={"workspace_id": people["workspace"]}, headers=bearer(people["owner"]))
    authorize_url = started.json()["authorize_url"]
    assert parse_qs(urlsplit(authorize_url).query)["redirect_uri"] == [FRONTEND + "/instagram/return"]
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(authorize_url)
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == FRONTEND + "/instagram/return"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    # The code is exchanged with the same redirect_uri it was issued for.
    assert (await complete(api, people["owner"], **params)).status_code == 201
    [row] = await account_row(db, people["workspace"])
    assert row["ig_user_id"] == IG_USER


async def test_tokens_never_reach_logs_or_responses(
    api: httpx.AsyncClient,
    sandbox: Any,
    people: dict[str, Any],
    db: Database,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the function quiets httpx when it is loaded; not here
    state = await start(api, people)
    code = sandbox.issue_code(IG_USER)
    responses = [await api.get("/callback", params={"code": code, "state": state})]
    responses.append(await complete(api, people["owner"], code=code, state=state))
    responses.append(await complete(api, people["owner"], code=code, state=state))  # reused: refused
    sandbox.faults.add(kind="me", code=100, http_status=400)  # a failure path logs Instagram's error too
    responses.append(
        await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=await start(api, people))
    )
    [row] = await account_row(db, people["workspace"])
    token = await stored_token(db, row["id"])
    issued = [t for t in sandbox.tokens if t.startswith("IGQsbx")]
    assert len(issued) == 4  # short- and long-lived, twice
    assert token in issued
    secrets_seen = [*issued, APP_SECRET]
    for response in responses:
        text = response.text + str(response.headers)
        for secret in secrets_seen:
            assert secret not in text
    # What our code logs carries no secret at all (nor the code), before any redaction.
    ours = [r for r in caplog.records if r.name.startswith("sociallab")]
    assert any(r.getMessage() == "instagram account connected" for r in ours)
    raw = "".join(r.getMessage() + str(vars(r)) for r in ours)
    assert code not in raw
    # Everything that reaches the output (our JSON formatter; httpx's request lines included, but not the test
    # client's own lines about calling us) is redacted.
    formatter = JsonFormatter()
    emitted = "".join(formatter.format(r) for r in caplog.records if "http://test/" not in r.getMessage())
    assert "access_token=" in "".join(r.getMessage() for r in caplog.records)  # httpx did log the URLs
    printed = capsys.readouterr()
    logged = raw + emitted + printed.out + printed.err
    for secret in secrets_seen:
        assert secret not in logged


# --- who may start, who may complete, and where to ----------------------------------------------------------


async def test_start_needs_an_owner_and_an_allowed_redirect(api: httpx.AsyncClient, people: dict[str, Any]) -> None:
    params = {"workspace_id": people["workspace"], "redirect_to": "/settings"}
    envelope(await api.get("/start", params=params), 401, "unauthenticated")
    envelope(await api.get("/start", params=params, headers=bearer(people["editor"])), 403, "forbidden")
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        bad = {**params, "redirect_to": target}
        envelope(
            await api.get("/start", params=bad, headers=bearer(people["owner"])),
            422,
            "validation_failed",
        )
    stranger_ws = {**params, "workspace_id": str(uuid.uuid4())}
    envelope(await api.get("/start", params=stranger_ws, headers=bearer(people["owner"])), 403, "forbidden")


async def test_a_login_started_by_one_user_cannot_be_completed_by_another(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    """The attack: an owner sends their authorize URL to someone else, who consents with their own Instagram
    account. Whoever completes it with a state they did not start stores nothing, anywhere."""
    state = await start(api, people)
    async with db.transaction() as tx:
        other_ws = await create_workspace(tx)
        other_owner = await create_member(tx, other_ws["id"], "owner")
        co_owner = await create_member(tx, people["workspace"], "owner")
    victim_code = sandbox.issue_code(IG_USER)
    exchanges = sandbox.calls["token"]
    for intruder in (other_owner["id"], co_owner["id"], people["editor"]):
        message = envelope(await complete(api, intruder, code=victim_code, state=state), 403, "forbidden")
        assert "another user" in message
    envelope(await api.post("/complete", json={"code": victim_code, "state": state}), 401, "unauthenticated")
    assert sandbox.calls["token"] == exchanges  # refused before talking to Instagram
    assert await account_row(db, people["workspace"]) == []
    assert await account_row(db, str(other_ws["id"])) == []
    # The state was not spent by the refused attempts: the user who started can still finish.
    assert (await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state)).status_code == 201


async def test_complete_for_a_user_no_longer_owner_is_refused(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    state = await start(api, people)
    async with db.transaction() as tx:  # the last owner cannot be demoted: add a second owner first
        await create_member(tx, people["workspace"], "owner")
        await tx.execute(
            "UPDATE workspace_members SET role = 'viewer' WHERE user_id = %(u)s AND workspace_id = %(w)s",
            {"u": people["owner"], "w": people["workspace"]},
        )
    exchanges = sandbox.calls["token"]
    envelope(await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state), 403, "forbidden")
    assert sandbox.calls["token"] == exchanges
    assert await account_row(db, people["workspace"]) == []


# --- the state --------------------------------------------------------------------------------------------


async def test_forged_or_missing_state_is_a_400(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    state = await start(api, people)
    forged = state[:-3] + ("xyz" if not state.endswith("xyz") else "abc")
    code = sandbox.issue_code(IG_USER)
    envelope(await complete(api, people["owner"], code=code, state=forged), 400, "invalid_state")
    envelope(await api.get("/callback", params={"code": code, "state": forged}), 400, "invalid_state")
    envelope(await api.get("/callback", params={"code": code}), 400, "invalid_state")
    envelope(
        await api.post("/complete", json={"code": code}, headers=bearer(people["owner"])), 422, "validation_failed"
    )
    # A state signed with another key, for a nonce we never issued.
    other = Settings(token_encryption_key=generate_key_setting("k1"))
    login = LoginState("n" * 20, people["workspace"], str(people["owner"]), FRONTEND + "/settings/instagram")
    envelope(await complete(api, people["owner"], code=code, state=make_state(login, other)), 400, "invalid_state")
    assert await account_row(db, people["workspace"]) == []


async def test_reused_state_is_refused(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    state = await start(api, people)
    assert (await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state)).status_code == 201
    [before] = await account_row(db, people["workspace"])
    exchanges = sandbox.calls["token"]
    again = await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state)
    assert "already used" in envelope(again, 400, "invalid_state")
    assert sandbox.calls["token"] == exchanges  # refused before talking to Instagram
    [after] = await account_row(db, people["workspace"])
    assert bytes(after["token_ciphertext"]) == bytes(before["token_ciphertext"])


async def test_expired_state_is_refused(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    nonce = "expired-nonce-" + uuid.uuid4().hex
    await db.execute(
        "INSERT INTO oauth_states (nonce, workspace_id, user_id, redirect_to, expires_at)"
        " VALUES (%(n)s, %(w)s, %(u)s, %(r)s, now() - interval '1 minute')",
        {"n": nonce, "w": people["workspace"], "u": people["owner"], "r": FRONTEND + "/settings/instagram"},
    )
    login = LoginState(nonce, people["workspace"], str(people["owner"]), FRONTEND + "/settings/instagram")
    old = make_state(login, get_settings(), now=time.time() - 601)
    code = sandbox.issue_code(IG_USER)
    assert "expired" in envelope(await complete(api, people["owner"], code=code, state=old), 400, "invalid_state")
    # The callback still forwards it (its redirect_to is signed); the page's /complete is what refuses it.
    forwarded = await api.get("/callback", params={"code": code, "state": old})
    assert forwarded.headers["location"].startswith(FRONTEND + "/settings/instagram?")
    # Signed as fresh but its nonce row has expired (e.g. clocks apart): refused by the database too.
    fresh_sig = make_state(login, get_settings())
    envelope(await complete(api, people["owner"], code=code, state=fresh_sig), 400, "invalid_state")
    assert await account_row(db, people["workspace"]) == []


async def test_user_denied_consent_is_forwarded_and_spends_nothing(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    state = await start(api, people)
    denied = await api.get(
        "/callback",
        params={"error": "access_denied", "error_reason": "user_denied", "error_description": "No.", "state": state},
    )
    assert denied.status_code == 302
    page = urlsplit(denied.headers["location"])
    assert {k: v[0] for k, v in parse_qs(page.query).items()} == {
        "state": state,
        "error": "access_denied",
        "error_reason": "user_denied",
    }
    assert await account_row(db, people["workspace"]) == []
    # The user changes their mind on the consent page within the state's life: it still works once.
    assert (await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state)).status_code == 201


# --- reconnecting -----------------------------------------------------------------------------------------


async def test_reconnect_updates_the_row_and_never_duplicates(
    api: httpx.AsyncClient, sandbox: Any, people: dict[str, Any], db: Database
) -> None:
    first = await connect(api, sandbox, people)
    [row] = await account_row(db, people["workspace"])
    old_token = await stored_token(db, row["id"])
    async with db.transaction() as tx:
        await accounts.mark_reauth_required(tx, row["id"], "Instagram error 190", actor="test")

    second = await connect(api, sandbox, people)
    assert second["id"] == first["id"] and second["status"] == "active"
    [again] = await account_row(db, people["workspace"])
    assert again["id"] == row["id"] and again["status"] == "active"
    new_token = await stored_token(db, row["id"])
    assert new_token != old_token


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "token", "code": 1, "http_status": 500}, 503, "dependency_unavailable"),
        ({"kind": "token", "code": 100, "http_status": 400, "message": "Invalid parameter"}, 400, "invalid_code"),
        ({"kind": "me", "code": 4, "http_status": 400}, 429, "rate_limited"),
        ({"kind": "me", "code": 100, "http_status": 400}, 502, "instagram_error"),
        ({"kind": "token", "action": "drop"}, 503, "dependency_unavailable"),
    ],
)
async def test_failure_during_reconnect_keeps_the_old_token(
    api: httpx.AsyncClient,
    sandbox: Any,
    people: dict[str, Any],
    db: Database,
    fault: dict[str, Any],
    status: int,
    code: str,
) -> None:
    await connect(api, sandbox, people)
    [before] = await account_row(db, people["workspace"])
    old_token = await stored_token(db, before["id"])

    state = await start(api, people)
    sandbox.faults.add(**fault)
    failed = await complete(api, people["owner"], code=sandbox.issue_code(IG_USER), state=state)
    sandbox.faults.clear()
    envelope(failed, status, code)
    if status == 429:
        assert int(failed.headers["retry-after"]) >= 1
    [after] = await account_row(db, people["workspace"])
    assert bytes(after["token_ciphertext"]) == bytes(before["token_ciphertext"])
    assert after["token_expires_at"] == before["token_expires_at"] and after["status"] == "active"
    assert await stored_token(db, before["id"]) == old_token


async def test_an_unknown_code_is_refused_without_a_row(
    api: httpx.AsyncClient, people: dict[str, Any], db: Database
) -> None:
    failed = await complete(api, people["owner"], code="not-a-real-code", state=await start(api, people))
    envelope(failed, 400, "invalid_code")
    assert await account_row(db, people["workspace"]) == []


async def test_start_names_missing_configuration(
    api: httpx.AsyncClient, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.delenv("INSTAGRAM_APP_SECRET")
    reset_settings()
    response = await api.get("/start", params={"workspace_id": people["workspace"]}, headers=bearer(people["owner"]))
    envelope(response, 500, "misconfigured")
    assert "INSTAGRAM_APP_SECRET" in response.json()["error"]["message"]
    assert await db.fetch_val("SELECT count(*) FROM oauth_states") == 0
