"""Connecting an Instagram account: "Instagram Login" OAuth with a signed, single-use, expiring `state`.

    /start     -> begin_login(...)      -> authorize URL (state: signed, bound to workspace + user +
                                           redirect_to, nonce row in oauth_states, 10 minutes)
    /callback  -> complete_login(...)   -> where to send the browser: redirect_to + ?instagram=connected
                                           or ?instagram=error&reason=<code>

The state is an HMAC-signed token (`sociallab.crypto.make_signed_token`, purpose `instagram_oauth`)
whose key is derived from TOKEN_ENCRYPTION_KEY; its nonce is consumed with one conditional UPDATE, so
a state works once. `redirect_to` must be a relative path or a URL on PUBLIC_BASE_URL's origin (or an
origin passed in `allowed_origins`): never an open redirect.

Callback failure reasons (the `reason` query parameter; never secrets):
    state_expired, state_used, access_denied, missing_code, forbidden,
    token_exchange_failed, instagram_unavailable, instagram_rate_limited, profile_failed

Errors::

    BadRequestError (400)
     └── InvalidStateError              forged or malformed state: nowhere trusted to redirect to
          └── ExpiredStateError         genuine but expired (complete_login turns it into a redirect)
    RequestValidationError (422)        redirect_to is not an allowed URL
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sociallab.access import require_role
from sociallab.config import Settings
from sociallab.crypto import ExpiredTokenError, InvalidSignatureError, make_signed_token, read_signed_token
from sociallab.db import Database, Tx
from sociallab.errors import BadRequestError, PermissionDeniedError, RequestValidationError
from sociallab.instagram import accounts
from sociallab.instagram.accounts import QUERIES
from sociallab.instagram.client import InstagramClient
from sociallab.instagram.errors import InstagramError, ThrottledError, TransientError, UnknownOutcomeError
from sociallab.logging import get_logger

log = get_logger(__name__)

STATE_PURPOSE = "instagram_oauth"
STATE_TTL_SECONDS = 600
SCOPES = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
]
CALLBACK_PATH = "/instagram-auth/callback"


class InvalidStateError(BadRequestError):
    """The OAuth state is missing, malformed or forged."""

    code = "invalid_state"


class ExpiredStateError(InvalidStateError):
    """The OAuth state is genuine but too old; `.login` says where the browser came from."""

    def __init__(self, login: LoginState) -> None:
        super().__init__("The sign-in link has expired; start again.")
        self.login = login


@dataclass(frozen=True)
class LoginState:
    nonce: str
    workspace_id: str
    user_id: str
    redirect_to: str


# --- state ---------------------------------------------------------------------------------------


def state_key(settings: Settings) -> bytes:
    """The HMAC key of OAuth states, derived from TOKEN_ENCRYPTION_KEY (never the encryption key itself).

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset.
    """
    secret = settings.secret("token_encryption_key").encode()
    return hmac.new(secret, b"sociallab:instagram_oauth_state:v1", hashlib.sha256).digest()


def make_state(login: LoginState, settings: Settings, *, now: float | None = None) -> str:
    """The signed `state` for `login`, valid for STATE_TTL_SECONDS.

    Raises:
        ConfigurationError: TOKEN_ENCRYPTION_KEY is unset.
    """
    data = {"n": login.nonce, "w": login.workspace_id, "u": login.user_id, "r": login.redirect_to}
    return make_signed_token(
        data, key=state_key(settings), purpose=STATE_PURPOSE, ttl_seconds=STATE_TTL_SECONDS, now=now
    )


def read_state(state: str | None, settings: Settings, *, now: float | None = None) -> LoginState:
    """The login a state was made for, if its signature holds (expiry is checked separately so an
    expired state can still send the browser back to its signed `redirect_to`).

    Raises:
        ExpiredStateError: well signed, but older than STATE_TTL_SECONDS.
        InvalidStateError: missing, malformed or forged.
    """
    if not state:
        raise InvalidStateError("The sign-in link is missing its state; start again.")
    key = state_key(settings)
    try:
        data = read_signed_token(state, key=key, purpose=STATE_PURPOSE, now=now)
    except ExpiredTokenError:
        # Signed by us, only too old: read it without the expiry check to know where to send the browser.
        raise ExpiredStateError(_login_from(read_signed_token(state, key=key, purpose=STATE_PURPOSE, now=0))) from None
    except InvalidSignatureError:
        raise InvalidStateError("The sign-in link is not valid; start again.") from None
    return _login_from(data)


def _login_from(data: dict[str, Any]) -> LoginState:
    try:
        return LoginState(
            nonce=str(data["n"]), workspace_id=str(data["w"]), user_id=str(data["u"]), redirect_to=str(data["r"])
        )
    except KeyError:
        raise InvalidStateError("The sign-in link is not valid; start again.") from None


# --- redirect targets ----------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{f':{parts.port}' if parts.port else ''}"


def safe_redirect(redirect_to: str | None, settings: Settings, *, allowed_origins: Iterable[str] = ()) -> str:
    """`redirect_to` as an absolute URL we may send a browser to after the login.

    Allowed: a relative path (`/settings`, resolved on PUBLIC_BASE_URL), or an http(s) URL whose origin is
    PUBLIC_BASE_URL's or one of `allowed_origins`. Empty means PUBLIC_BASE_URL's root.

    Raises:
        RequestValidationError: anything else (other hosts, `//host`, credentials, odd schemes).
    """
    base = settings.public_base_url
    if not redirect_to:
        return base + "/"
    refuse = RequestValidationError(
        "redirect_to must be a path or a URL of this application.",
        details=[{"field": "redirect_to", "message": "not an allowed redirect target"}],
    )
    if len(redirect_to) > 2000 or any(ch in redirect_to for ch in "\\\r\n\t\x00") or redirect_to != redirect_to.strip():
        raise refuse
    if redirect_to.startswith("/"):
        if redirect_to.startswith("//"):
            raise refuse
        base_parts = urlsplit(base)
        path_parts = urlsplit(redirect_to)
        return urlunsplit(
            (
                base_parts.scheme,
                base_parts.netloc,
                base_parts.path.rstrip("/") + path_parts.path,
                path_parts.query,
                path_parts.fragment,
            )
        )
    try:
        parts = urlsplit(redirect_to)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise refuse from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise refuse
    allowed = {_origin(base), *(_origin(o) for o in allowed_origins)}
    if _origin(redirect_to) not in allowed:
        raise refuse
    return redirect_to


def with_params(url: str, **params: str) -> str:
    """`url` with `params` added to its query (replacing same-named ones), fragment kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*query, *params.items()]), parts.fragment))


def redirect_uri(settings: Settings) -> str:
    """The OAuth redirect URI registered with Meta (INSTAGRAM_REDIRECT_URI; by default the callback of
    this function under PUBLIC_BASE_URL, which is what the dev server serves)."""
    return settings.instagram_redirect_uri or settings.public_base_url + CALLBACK_PATH


# --- the flow ------------------------------------------------------------------------------------


async def begin_login(
    tx: Tx,
    client: InstagramClient,
    settings: Settings,
    *,
    workspace_id: str,
    user_id: str,
    redirect_to: str | None,
    allowed_origins: Iterable[str] = (),
    now: datetime | None = None,
) -> str:
    """Record a single-use state for the caller and return Instagram's authorize URL.

    The caller must already have been checked as an owner of the workspace.

    Raises:
        RequestValidationError: redirect_to is not allowed.
        ConfigurationError: INSTAGRAM_APP_ID, INSTAGRAM_APP_SECRET or TOKEN_ENCRYPTION_KEY is unset (checked
            here so the user is not sent through Instagram's consent only for the callback to fail).
    """
    settings.require("instagram_app_id", "instagram_app_secret", "token_encryption_key")
    target = safe_redirect(redirect_to, settings, allowed_origins=allowed_origins)
    issued = now or datetime.now(UTC)
    login = LoginState(secrets.token_urlsafe(24), str(workspace_id), str(user_id), target)
    await tx.execute(
        QUERIES["insert_oauth_state"],
        {
            "nonce": login.nonce,
            "workspace_id": login.workspace_id,
            "user_id": login.user_id,
            "redirect_to": target,
            "expires_at": issued + timedelta(seconds=STATE_TTL_SECONDS),
        },
    )
    await tx.execute(QUERIES["delete_old_oauth_states"])
    state = make_state(login, settings, now=issued.timestamp())
    return client.authorize_url(
        redirect_uri=redirect_uri(settings), state=state, scopes=SCOPES, authorize_url=settings.instagram_authorize_url
    )


@dataclass(frozen=True)
class CallbackParams:
    code: str | None
    state: str | None
    error: str | None = None
    error_reason: str | None = None


async def complete_login(db: Database, client: InstagramClient, settings: Settings, params: CallbackParams) -> str:
    """Finish the login Instagram redirected back with; returns where to send the browser.

    The state is consumed before anything else (so it works once, whatever happens next); then the code is
    exchanged for a short-lived token, that for a long-lived one, `/me` is read, and the account is stored in
    one transaction (a failure at any step leaves the previous token in place).

    Raises:
        InvalidStateError: the state is missing, malformed or forged (no trusted redirect target).
    """
    try:
        login = read_state(params.state, settings)
    except ExpiredStateError as exc:
        login = exc.login
        log.info("instagram login refused", extra={"reason": "state_expired", "workspace_id": login.workspace_id})
        return _fail(login, "state_expired")

    async with db.transaction() as tx:
        consumed = await tx.fetch_one(QUERIES["consume_oauth_state"], {"nonce": login.nonce})
    if consumed is None:
        log.info("instagram login refused", extra={"reason": "state_used", "workspace_id": login.workspace_id})
        return _fail(login, "state_used")
    if params.error or not params.code:
        reason = "access_denied" if params.error else "missing_code"
        log.info("instagram login ended", extra={"reason": reason, "error_reason": params.error_reason})
        return _fail(login, reason)

    step = "token_exchange_failed"
    try:
        short = await client.exchange_code(params.code, redirect_uri=redirect_uri(settings))
        long = await client.exchange_long_lived(short.access_token)
        step = "profile_failed"
        profile = await client.me(long.access_token)
    except InstagramError as exc:
        reason = _reason_for(exc, step)
        log.warning(
            "instagram login failed",
            extra={
                "reason": reason,
                "error": type(exc).__name__,
                "ig_code": exc.meta_code,
                "ig_subcode": exc.subcode,
                "fbtrace_id": exc.fbtrace_id,
                "workspace_id": login.workspace_id,
            },
        )
        return _fail(login, reason)

    expires_at = datetime.now(UTC) + timedelta(seconds=long.expires_in) if long.expires_in else None
    try:
        async with db.transaction() as tx:
            await require_role(tx, user_id=login.user_id, workspace_id=login.workspace_id, minimum="owner")
            stored = await accounts.store_token(
                tx,
                workspace_id=login.workspace_id,
                ig_user_id=profile.ig_user_id,
                access_token=long.access_token,
                expires_at=expires_at,
                scopes=short.permissions or long.permissions or list(SCOPES),
                profile={
                    "username": profile.username,
                    "name": profile.name,
                    "account_type": profile.account_type,
                    "profile_picture_url": profile.profile_picture_url,
                    "followers_count": profile.followers_count,
                },
                connected_by=login.user_id,
            )
    except PermissionDeniedError:
        log.info("instagram login refused", extra={"reason": "forbidden", "workspace_id": login.workspace_id})
        return _fail(login, "forbidden")
    log.info(
        "instagram account connected",
        extra={"workspace_id": login.workspace_id, "instagram_account_id": stored.id, "reconnect": not stored.created},
    )
    return with_params(login.redirect_to, instagram="connected", instagram_account_id=stored.id)


def _reason_for(exc: InstagramError, step: str) -> str:
    if isinstance(exc, ThrottledError):
        return "instagram_rate_limited"
    if isinstance(exc, TransientError | UnknownOutcomeError):
        return "instagram_unavailable"
    return step


def _fail(login: LoginState, reason: str) -> str:
    return with_params(login.redirect_to, instagram="error", reason=reason)
