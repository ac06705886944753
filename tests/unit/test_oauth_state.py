"""The Instagram login `state` and redirect targets (sociallab.instagram.oauth), without network or database."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from sociallab.config import Settings
from sociallab.crypto import generate_key_setting, make_signed_token
from sociallab.errors import RequestValidationError
from sociallab.instagram.oauth import (
    STATE_PURPOSE,
    STATE_TTL_SECONDS,
    ExpiredStateError,
    InvalidStateError,
    LoginState,
    make_state,
    read_state,
    redirect_uri,
    safe_redirect,
    state_key,
    with_params,
)

pytestmark = pytest.mark.unit

SETTINGS = Settings(token_encryption_key=generate_key_setting("k1"), public_base_url="https://app.sociallab.test")
LOGIN = LoginState(nonce="n0nce", workspace_id="ws-1", user_id="user-1", redirect_to="https://app.sociallab.test/s")


def test_state_roundtrip_keeps_every_binding() -> None:
    assert read_state(make_state(LOGIN, SETTINGS), SETTINGS) == LOGIN


def test_state_key_is_derived_not_the_encryption_key() -> None:
    key = state_key(SETTINGS)
    assert len(key) == 32
    assert key not in SETTINGS.secret("token_encryption_key").encode()
    other = Settings(token_encryption_key=generate_key_setting("k1"))
    assert state_key(other) != key


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # signature changed
        lambda s: "e30" + s[s.index(".") :],  # body replaced ({}), old signature
        lambda s: s.split(".")[0],  # no signature
        lambda s: "",  # empty
        lambda s: "not-a-state",
    ],
)
def test_forged_states_are_refused(tamper: object) -> None:
    state = make_state(LOGIN, SETTINGS)
    with pytest.raises(InvalidStateError) as refused:
        read_state(tamper(state), SETTINGS)  # type: ignore[operator]
    assert not isinstance(refused.value, ExpiredStateError)
    assert refused.value.status == 400 and refused.value.code == "invalid_state"


def test_state_made_with_another_key_or_purpose_is_refused() -> None:
    other = Settings(token_encryption_key=generate_key_setting("k1"))
    with pytest.raises(InvalidStateError):
        read_state(make_state(LOGIN, other), SETTINGS)
    data = {"n": "x", "w": "ws", "u": "u", "r": "https://app.sociallab.test/"}
    wrong_purpose = make_signed_token(data, key=state_key(SETTINGS), purpose="storage.sign", ttl_seconds=600)
    with pytest.raises(InvalidStateError):
        read_state(wrong_purpose, SETTINGS)
    assert (
        read_state(
            make_signed_token(data, key=state_key(SETTINGS), purpose=STATE_PURPOSE, ttl_seconds=600), SETTINGS
        ).nonce
        == "x"
    )


def test_expired_state_is_refused_but_says_where_to_go_back() -> None:
    issued = time.time() - STATE_TTL_SECONDS - 1
    state = make_state(LOGIN, SETTINGS, now=issued)
    with pytest.raises(ExpiredStateError) as expired:
        read_state(state, SETTINGS)
    assert expired.value.login == LOGIN
    # Just inside the window it is still fine.
    assert read_state(make_state(LOGIN, SETTINGS, now=time.time() - STATE_TTL_SECONDS + 5), SETTINGS) == LOGIN


def test_state_with_missing_fields_is_refused() -> None:
    token = make_signed_token({"n": "x"}, key=state_key(SETTINGS), purpose=STATE_PURPOSE, ttl_seconds=600)
    with pytest.raises(InvalidStateError):
        read_state(token, SETTINGS)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://app.sociallab.test/"),
        ("", "https://app.sociallab.test/"),
        ("/settings/instagram", "https://app.sociallab.test/settings/instagram"),
        ("/settings?tab=ig#top", "https://app.sociallab.test/settings?tab=ig#top"),
        ("https://app.sociallab.test/x?y=1", "https://app.sociallab.test/x?y=1"),
        ("HTTPS://APP.sociallab.test/x", "HTTPS://APP.sociallab.test/x"),
    ],
)
def test_allowed_redirects(given: str | None, expected: str) -> None:
    assert safe_redirect(given, SETTINGS) == expected


@pytest.mark.parametrize(
    "given",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "https://app.sociallab.test.evil.example/",
        "https://app.sociallab.test@evil.example/",
        "https://user:pw@app.sociallab.test/",
        "http://app.sociallab.test/",  # another scheme is another origin
        "https://app.sociallab.test:444/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "settings",  # relative without a slash
        "/ok\r\nSet-Cookie: x=1",
        " https://app.sociallab.test/",
        "https://app.sociallab.test:99999/",
    ],
)
def test_open_redirects_are_refused(given: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        safe_redirect(given, SETTINGS)
    assert refused.value.details[0]["field"] == "redirect_to"


def test_configured_frontend_origins_are_allowed() -> None:
    url = "https://club.example/connected"
    assert safe_redirect(url, SETTINGS, allowed_origins=["https://club.example"]) == url
    with pytest.raises(RequestValidationError):
        safe_redirect("https://other.example/", SETTINGS, allowed_origins=["https://club.example"])


def test_with_params_adds_replaces_and_keeps_fragment() -> None:
    url = with_params("https://app.sociallab.test/s?tab=ig&instagram=old#frag", instagram="connected", reason="x y")
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {"tab": ["ig"], "instagram": ["connected"], "reason": ["x y"]}
    assert parts.fragment == "frag"


def test_redirect_uri_defaults_to_this_functions_callback() -> None:
    assert redirect_uri(SETTINGS) == "https://app.sociallab.test/instagram-auth/callback"
    configured = Settings(instagram_redirect_uri="https://api.club.example/cb")
    assert redirect_uri(configured) == "https://api.club.example/cb"
