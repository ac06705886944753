"""User, scheduler and webhook authentication, with keys served by a fake JWKS endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sociallab.config import Settings
from sociallab.errors import AuthenticationError, DependencyUnavailableError
from sociallab.http.auth import Authenticator, JwksCache, bearer_token

pytestmark = pytest.mark.unit

SUPABASE_URL = "https://project.supabase.co"
ISSUER = f"{SUPABASE_URL}/auth/v1"
HS_SECRET = "legacy-hs256-secret-of-at-least-32-bytes!"
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GOOGLE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = ECAlgorithm if alg == "ES256" else RSAAlgorithm
    data = json.loads(algorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


class FakeJwks:
    """Serves JWKS documents the way Supabase and Google do; counts fetches; can fail."""

    def __init__(self) -> None:
        self.keys = {
            "/auth/v1/.well-known/jwks.json": [_jwk(EC_KEY, "ec-1", "ES256"), _jwk(RSA_KEY, "rsa-1", "RS256")],
            "/oauth2/v3/certs": [_jwk(GOOGLE_KEY, "g-1", "RS256")],
        }
        self.fetches = 0
        self.fail = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.fail:
            return httpx.Response(503, json={"message": "unavailable"})
        return httpx.Response(200, json={"keys": self.keys.get(request.url.path, [])})


@pytest.fixture
def jwks() -> FakeJwks:
    return FakeJwks()


def make_auth(jwks: FakeJwks, **overrides: Any) -> Authenticator:
    values: dict[str, Any] = {
        "supabase_url": SUPABASE_URL,
        "supabase_jwt_secret": HS_SECRET,
        "scheduler_secret": "scheduler-shared-secret",
        "scheduler_audience": "https://publish-due.run.app",
        "scheduler_service_account": "scheduler@proj.iam.gserviceaccount.com",
        "google_certs_url": "https://www.googleapis.com/oauth2/v3/certs",
        "webhook_secret": "webhook-secret-value",
    }
    settings = Settings(**{**values, **overrides})
    return Authenticator(settings, httpx.AsyncClient(transport=httpx.MockTransport(jwks.handler)))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "11111111-1111-4111-8111-111111111111",
        "aud": "authenticated",
        "iss": ISSUER,
        "role": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": "coach@club.test",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_hs256_token_with_the_legacy_secret_is_accepted(jwks: FakeJwks) -> None:
    user = await make_auth(jwks).user(bearer(jwt.encode(claims(), HS_SECRET, algorithm="HS256")))
    assert user.id == "11111111-1111-4111-8111-111111111111"
    assert user.email == "coach@club.test"
    assert jwks.fetches == 0


@pytest.mark.parametrize(("key", "alg", "kid"), [(EC_KEY, "ES256", "ec-1"), (RSA_KEY, "RS256", "rsa-1")])
async def test_asymmetric_tokens_are_verified_against_the_jwks(jwks: FakeJwks, key: Any, alg: str, kid: str) -> None:
    auth = make_auth(jwks)
    token = jwt.encode(claims(), key, algorithm=alg, headers={"kid": kid})
    assert (await auth.user(bearer(token))).email == "coach@club.test"
    await auth.user(bearer(token))
    assert jwks.fetches == 1  # cached


@pytest.mark.parametrize(
    ("token_claims", "message"),
    [
        (claims(exp=int(time.time()) - 120), "expired"),
        (claims(aud="anon"), "audience"),
        (claims(iss="https://evil.example/auth/v1"), "issued"),
        (claims(sub=None), "invalid"),
        (claims(exp=None), "invalid"),
        (claims(role="anon"), "signed-in"),
    ],
)
async def test_bad_claims_are_refused(jwks: FakeJwks, token_claims: dict[str, Any], message: str) -> None:
    token = jwt.encode(token_claims, HS_SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=message):
        await make_auth(jwks).user(bearer(token))


async def test_a_forged_signature_is_refused(jwks: FakeJwks) -> None:
    token = jwt.encode(claims(), "another-secret-that-is-32-bytes-long!!", algorithm="HS256")
    with pytest.raises(AuthenticationError, match="invalid"):
        await make_auth(jwks).user(bearer(token))


async def test_alg_none_is_refused(jwks: FakeJwks) -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(AuthenticationError, match="algorithm"):
        await make_auth(jwks).user(bearer(token))


async def test_hs256_signed_with_the_public_key_is_refused(jwks: FakeJwks) -> None:
    """The classic key-confusion attack: HMAC keyed with the server's published public key."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    import hashlib
    import hmac

    signing_input = header + b"." + payload
    signature = jwt.utils.base64url_encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    token = (signing_input + b"." + signature).decode()
    with pytest.raises(AuthenticationError):
        await make_auth(jwks).user(bearer(token))
    without_secret = make_auth(jwks, supabase_jwt_secret=None)
    with pytest.raises(AuthenticationError, match="algorithm"):
        await without_secret.user(bearer(token))


async def test_a_header_alg_that_does_not_match_the_key_is_refused(jwks: FakeJwks) -> None:
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"})
    with pytest.raises(AuthenticationError, match="does not match"):
        await make_auth(jwks).user(bearer(token))


async def test_an_unknown_kid_refetches_once_then_refuses(jwks: FakeJwks) -> None:
    auth = make_auth(jwks)
    new_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), new_key, algorithm="ES256", headers={"kid": "ec-2"})
    with pytest.raises(AuthenticationError, match="unknown key"):
        await auth.user(bearer(token))
    jwks.keys["/auth/v1/.well-known/jwks.json"].append(_jwk(new_key, "ec-2", "ES256"))
    # within the refetch interval the cache is not hammered
    with pytest.raises(AuthenticationError, match="unknown key"):
        await auth.user(bearer(token))
    assert jwks.fetches == 1


async def test_rotated_keys_are_picked_up_after_the_refetch_interval(jwks: FakeJwks) -> None:
    now = [1000.0]
    cache = JwksCache(
        f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json",
        httpx.AsyncClient(transport=httpx.MockTransport(jwks.handler)),
        clock=lambda: now[0],
    )
    assert (await cache.key("ec-1")).key_id == "ec-1"
    new_key = ec.generate_private_key(ec.SECP256R1())
    jwks.keys["/auth/v1/.well-known/jwks.json"].append(_jwk(new_key, "ec-2", "ES256"))
    now[0] += 31
    assert (await cache.key("ec-2")).key_id == "ec-2"
    assert jwks.fetches == 2


async def test_jwks_outage_is_a_503_not_a_401(jwks: FakeJwks) -> None:
    jwks.fail = True
    token = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    with pytest.raises(DependencyUnavailableError):
        await make_auth(jwks).user(bearer(token))


async def test_concurrent_checks_share_one_jwks_fetch(jwks: FakeJwks) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_handler(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return jwks.handler(request)

    cache = JwksCache(
        f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json", httpx.AsyncClient(transport=httpx.MockTransport(slow_handler))
    )
    callers = [asyncio.create_task(cache.key("ec-1")) for _ in range(10)]
    await entered.wait()  # the first caller is fetching; the other nine started before it and now wait
    release.set()
    keys = await asyncio.gather(*callers)
    assert {k.key_id for k in keys} == {"ec-1"}
    assert jwks.fetches == 1


async def test_a_jwks_outage_is_remembered_briefly_instead_of_refetched_per_request(jwks: FakeJwks) -> None:
    now = [1000.0]
    cache = JwksCache(
        f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json",
        httpx.AsyncClient(transport=httpx.MockTransport(jwks.handler)),
        failure_ttl=10,
        clock=lambda: now[0],
    )
    jwks.fail = True
    for _ in range(5):
        with pytest.raises(DependencyUnavailableError):
            await cache.key("ec-1")
    assert jwks.fetches == 1
    now[0] += 11
    jwks.fail = False
    assert (await cache.key("ec-1")).key_id == "ec-1"
    assert jwks.fetches == 2
    # Keys it has are served through a later outage, which is not asked about again for a while either.
    now[0] += 601
    jwks.fail = True
    for _ in range(5):
        assert (await cache.key("ec-1")).key_id == "ec-1"
    assert jwks.fetches == 3
    with pytest.raises(DependencyUnavailableError):  # a key it never saw may exist: 503, not 401
        await cache.key("ec-9")
    assert jwks.fetches == 3


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt", "Bearer a.b"])
async def test_missing_or_malformed_authorization_is_refused(jwks: FakeJwks, header: str | None) -> None:
    with pytest.raises(AuthenticationError):
        await make_auth(jwks).user(header)


def test_bearer_token_is_read_case_insensitively() -> None:
    assert bearer_token("bearer abc") == "abc"


def _google_token(**overrides: Any) -> str:
    now = int(time.time())
    data = {
        "iss": "https://accounts.google.com",
        "aud": "https://publish-due.run.app",
        "sub": "1234",
        "email": "scheduler@proj.iam.gserviceaccount.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    data.update(overrides)
    return jwt.encode(data, GOOGLE_KEY, algorithm="RS256", headers={"kid": "g-1"})


async def test_scheduler_accepts_the_shared_secret_and_google_oidc(jwks: FakeJwks) -> None:
    auth = make_auth(jwks)
    await auth.scheduler(bearer("scheduler-shared-secret"))
    await auth.scheduler(bearer(_google_token()))


@pytest.mark.parametrize(
    "token",
    [
        "wrong-secret",
        _google_token(email="someone@else.iam.gserviceaccount.com"),
        _google_token(aud="https://another-function.run.app"),
        _google_token(iss="https://evil.example"),
        _google_token(email_verified=False),
        _google_token(exp=int(time.time()) - 600),
    ],
)
async def test_scheduler_refuses_everything_else(jwks: FakeJwks, token: str) -> None:
    with pytest.raises(AuthenticationError):
        await make_auth(jwks).scheduler(bearer(token))


async def test_scheduler_refuses_a_supabase_user_token(jwks: FakeJwks) -> None:
    with pytest.raises(AuthenticationError):
        await make_auth(jwks).scheduler(bearer(jwt.encode(claims(), HS_SECRET, algorithm="HS256")))


def test_webhook_secret(jwks: FakeJwks) -> None:
    auth = make_auth(jwks)
    auth.webhook("webhook-secret-value")
    for given in (None, "", "webhook-secret-valuE", "webhook-secret-value "):
        with pytest.raises(AuthenticationError):
            auth.webhook(given)
    with pytest.raises(AuthenticationError):
        make_auth(jwks, webhook_secret=None).webhook("anything")


def _stripped(token: str) -> str:
    return token.rsplit(".", 1)[0] + ".SIGNATURE_REMOVED_BY_GOOGLE"


async def test_a_token_verified_by_cloud_run_is_accepted_only_where_the_platform_verifies(jwks: FakeJwks) -> None:
    stripped = _stripped(_google_token())
    await make_auth(jwks, scheduler_platform_verified=True).scheduler(bearer(stripped))
    with pytest.raises(AuthenticationError):
        await make_auth(jwks).scheduler(bearer(stripped))


@pytest.mark.parametrize(
    "overrides",
    [{"email": "other@proj.iam.gserviceaccount.com"}, {"aud": "https://elsewhere"}, {"exp": int(time.time()) - 600}],
)
async def test_a_stripped_token_still_needs_the_right_claims(jwks: FakeJwks, overrides: dict[str, Any]) -> None:
    with pytest.raises(AuthenticationError):
        await make_auth(jwks, scheduler_platform_verified=True).scheduler(bearer(_stripped(_google_token(**overrides))))
