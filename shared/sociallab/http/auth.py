"""Who is calling: Supabase users (JWT), Cloud Scheduler (OIDC or shared secret), database webhooks.

User tokens are verified against the legacy HS256 secret (`SUPABASE_JWT_SECRET`) or the project's
JWKS (ES256/RS256 at `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`). The algorithm is taken from
the key, never trusted from the token: `alg: none` is refused, and an HS256 token is only ever
checked with the HS256 secret, so one signed with a public key cannot pass.

PyJWT (and with it cryptography) and httpx are imported by the checks that use them, not with this
module: a function whose routes take no tokens never loads them (cold start, issue 7).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sociallab.config import Settings
from sociallab.errors import AuthenticationError, DependencyUnavailableError
from sociallab.logging import get_logger

if TYPE_CHECKING:
    import httpx
    import jwt

log = get_logger(__name__)

ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
LEEWAY_SECONDS = 30
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    claims: dict[str, Any] = field(repr=False)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header.

    Raises:
        AuthenticationError: the header is missing or not a bearer token.
    """
    if not authorization:
        raise AuthenticationError("Missing Authorization header.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization must be 'Bearer <token>'.")
    return token.strip()


class JwksCache:
    """Public keys by key id, fetched on demand and refreshed when an unknown `kid` shows up.

    One fetch at a time: callers that need the keys while a fetch is under way wait for it instead of
    starting their own. A failed fetch is remembered for `failure_ttl` seconds, so while the key
    endpoint is down each sign-in check answers at once (with the keys it has, or a 503) instead of
    every request waiting for its own timeout.
    """

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        ttl: float = 600,
        min_refetch: float = 30,
        failure_ttl: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url, self.client, self.clock = url, client, clock
        self.ttl, self.min_refetch, self.failure_ttl = ttl, min_refetch, failure_ttl
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._fetching = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key for `kid`.

        Raises:
            AuthenticationError: no such key.
            DependencyUnavailableError: the key is not known and the JWKS could not be fetched.
        """
        if self._needs_fetch(kid):
            async with self._fetching:
                if self._needs_fetch(kid):  # not done meanwhile by the caller we waited for
                    await self._fetch()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid is not None and kid in self._keys:
            return self._keys[kid]
        if self._failed_at is not None:  # the key may well exist; we could not ask
            raise DependencyUnavailableError("Could not fetch the signing keys.")
        raise AuthenticationError("The token was signed with an unknown key.")

    def _needs_fetch(self, kid: str | None) -> bool:
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < self.failure_ttl:
            return False
        if self._fetched_at is None:
            return True
        age = now - self._fetched_at
        return age > self.ttl or (kid not in self._keys and age > self.min_refetch)

    async def _fetch(self) -> None:
        import httpx
        import jwt

        try:
            response = await self.client.get(self.url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("jwks fetch failed", extra={"jwks_url": self.url, "error": type(exc).__name__})
            self._failed_at = self.clock()  # keep serving the keys we have, if any
            return
        self._keys = {k.key_id or "": k for k in keys}
        self._fetched_at = self.clock()
        self._failed_at = None


class Authenticator:
    """Verifies every kind of caller. One per process; holds the JWKS caches."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._jwks: dict[str, JwksCache] = {}

    def jwks(self, url: str) -> JwksCache:
        """The key cache of `url`, made (with the HTTP client) when a token first needs it."""
        if url not in self._jwks:
            if self._client is None:
                import httpx

                self._client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
            self._jwks[url] = JwksCache(url, self._client)
        return self._jwks[url]

    async def user(self, authorization: str | None) -> User:
        """The Supabase user of a bearer token.

        Raises:
            AuthenticationError: missing, malformed, expired, forged, wrong audience or issuer.
            DependencyUnavailableError: the JWKS is needed and unreachable.
        """
        token = bearer_token(authorization)
        header = _unverified_header(token)
        alg = header.get("alg")
        if alg == "HS256" and self.settings.supabase_jwt_secret:
            key: Any = self.settings.supabase_jwt_secret.get_secret_value()
        elif alg in ASYMMETRIC_ALGORITHMS and self.settings.supabase_url:
            jwk = await self.jwks(f"{self.settings.supabase_url}/auth/v1/.well-known/jwks.json").key(header.get("kid"))
            if jwk.algorithm_name != alg:
                raise AuthenticationError("The token's algorithm does not match its key.")
            key = jwk.key
        else:
            raise AuthenticationError("The token's signing algorithm is not accepted.")
        claims = _decode(token, key, alg, audience=self.settings.jwt_audience, issuer=self.settings.expected_issuer)
        if claims.get("role") not in (None, "authenticated"):
            raise AuthenticationError("Only signed-in users may call this.")
        return User(id=str(claims["sub"]), email=claims.get("email"), claims=claims)

    async def scheduler(self, authorization: str | None) -> None:
        """Accept Cloud Scheduler: the shared `SCHEDULER_SECRET`, or a Google OIDC token for the
        configured service account and audience.

        Raises:
            AuthenticationError: neither matches (or neither is configured).
        """
        token = bearer_token(authorization)
        secret = self.settings.scheduler_secret
        if secret and hmac.compare_digest(token.encode(), secret.get_secret_value().encode()):
            return
        audience, account = self.settings.scheduler_audience, self.settings.scheduler_service_account
        if not (audience and account) or _unverified_header(token).get("alg") != "RS256":
            raise AuthenticationError("Not a scheduler call.")
        if self.settings.scheduler_platform_verified and token.endswith("." + SIGNATURE_REMOVED):
            # A private Cloud Run service has already verified this token and stripped its signature;
            # the claims still have to name our audience and the scheduler's account.
            claims = _decode(token, None, "RS256", audience=audience, issuer=None, verify_signature=False)
        else:
            jwk = await self.jwks(self.settings.google_certs_url).key(_unverified_header(token).get("kid"))
            claims = _decode(token, jwk.key, "RS256", audience=audience, issuer=None)
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise AuthenticationError("The token was not issued by Google.")
        if claims.get("email") != account or not claims.get("email_verified"):
            raise AuthenticationError("The token is not for the scheduler's service account.")

    def webhook(self, given_secret: str | None) -> None:
        """Accept a database webhook carrying `X-Webhook-Secret`, compared in constant time.

        Raises:
            AuthenticationError: missing or wrong secret, or none configured.
        """
        expected = self.settings.webhook_secret
        if not expected or not given_secret:
            raise AuthenticationError("Missing webhook secret.")
        if not hmac.compare_digest(given_secret.encode(), expected.get_secret_value().encode()):
            raise AuthenticationError("Wrong webhook secret.")


def _unverified_header(token: str) -> dict[str, Any]:
    import jwt

    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthenticationError("The token is malformed.") from None


def _decode(
    token: str, key: Any, alg: str, *, audience: str, issuer: str | None, verify_signature: bool = True
) -> dict[str, Any]:
    import jwt

    options: Any = {"require": ["exp", "sub", "aud"], "verify_signature": verify_signature}
    if not verify_signature:  # PyJWT turns the claim checks off with the signature check unless asked
        options.update(verify_exp=True, verify_aud=True, verify_iat=True, verify_nbf=True)
    try:
        return jwt.decode(
            token, key, algorithms=[alg], audience=audience, issuer=issuer, leeway=LEEWAY_SECONDS, options=options
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("The token has expired.") from None
    except jwt.InvalidAudienceError:
        raise AuthenticationError("The token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise AuthenticationError("The token was issued by someone else.") from None
    except jwt.PyJWTError:
        raise AuthenticationError("The token is invalid.") from None
