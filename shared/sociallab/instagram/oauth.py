"""Connecting an Instagram account: "Instagram Login" OAuth with a signed, single-use, expiring `state`
that names the workspace and the user who started, and is completed only by that same user.

    GET  /start     -> begin_login(...)     -> authorize URL (state: signed, bound to workspace + user +
                                               redirect_to, nonce row in oauth_states, 10 minutes)
    Instagram sends the browser to INSTAGRAM_REDIRECT_URI (a frontend page) with `code` and `state`.
    POST /complete  -> complete_login(...)  -> the connected account; called by that page with the
                                               user's own bearer token
    GET  /callback  -> forward_callback(...) -> only forwards `code` and `state` (or Instagram's error) to
                                               the state's redirect_to page; exchanges and stores nothing

Why the user must complete it: `/start`'s authorize URL can be sent to someone else. If the code were
exchanged wherever the browser lands, whoever consents (or whom Instagram lets through without a
consent page) would connect *their* Instagram account to the sender's workspace, which could then post
to it. `/complete` needs the starting user's own token, so a state only ever connects an account for
the person who asked.

The state is an HMAC-signed token (`sociallab.crypto.make_signed_token`, purpose `instagram_oauth`)
whose key is derived from TOKEN_ENCRYPTION_KEY; its nonce is consumed with one conditional UPDATE, so
a state works once. `redirect_to` must be a relative path or a URL on PUBLIC_BASE_URL's origin (or an
origin passed in `allowed_origins`): never an open redirect.

Errors::

    BadRequestError (400)
     ├── InvalidStateError              forged, malformed, expired or already used state
     └── InvalidCodeError               Instagram did not accept the code
    PermissionDeniedError (403)
     └── StateOfAnotherUserError        the state was started by another user
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
from sociallab.errors import (
    AppError,
    BadRequestError,
    DependencyUnavailableError,
    PermissionDeniedError,
    RateLimitedError,
    RequestValidationError,
)
from sociallab.instagram import accounts
from sociallab.instagram.accounts import QUERIES
from sociallab.instagram.client import InstagramClient
from sociallab.instagram.errors import (
    InstagramError,
    ThrottledError,
    TokenInvalidError,
    TransientError,
    UnknownOutcomeError,
)
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
    """The Instagram sign-in is not valid (missing, forged, expired or already used); start again."""

    code = "invalid_state"


class ExpiredStateError(InvalidStateError):
    """The OAuth state is genuine but too old; `.login` says where the browser came from."""

    def __init__(self, login: LoginState) -> None:
        super().__init__("The Instagram sign-in has expired; start again.")
        self.login = login


class StateOfAnotherUserError(PermissionDeniedError):
    """This Instagram sign-in was started by another user; start it again yourself."""


class InvalidCodeError(BadRequestError):
    """Instagram did not accept the sign-in code (it may be used or expired); start again."""

    code = "invalid_code"


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
    state = make_state(login, settings, now=issued.timestamp())
    return client.authorize_url(
        redirect_uri=redirect_uri(settings), state=state, scopes=SCOPES, authorize_url=settings.instagram_authorize_url
    )


def forward_callback(settings: Settings, *, state: str | None, params: dict[str, str]) -> str:
    """Where `/callback` sends the browser: the state's own (signed) `redirect_to`, with `params` (the code
    and state, or Instagram's error) added. An expired state is forwarded too; `/complete` refuses it.

    Raises:
        InvalidStateError: the state is missing, malformed or forged (nowhere trusted to send the browser).
    """
    try:
        login = read_state(state, settings)
    except ExpiredStateError as exc:
        login = exc.login
    return with_params(login.redirect_to, **params)


@dataclass(frozen=True)
class ConnectedAccount:
    account: accounts.StoredAccount
    redirect_to: str  # where the frontend goes next: the redirect_to given at /start


async def complete_login(
    db: Database, client: InstagramClient, settings: Settings, *, code: str, state: str, user_id: str
) -> ConnectedAccount:
    """Finish the login of `user_id`, who must be the user who started it and still an owner.

    Checked before anything is spent: the state's signature and age, its user, the role. Then the state is
    consumed (it works once, whatever happens next), the code is exchanged for a short-lived token, that for a
    long-lived one, `/me` is read, and the account is stored in one transaction (a failure at any step leaves
    the previous token in place).

    Raises:
        InvalidStateError: missing, forged, expired or already used state.
        StateOfAnotherUserError: another user started this login (the state stays usable by them).
        PermissionDeniedError: the user is no longer an owner of the workspace.
        InvalidCodeError: Instagram refused the code.
        RateLimitedError, DependencyUnavailableError: Instagram throttles us or is unreachable.
        InstagramError: Instagram refused to read the profile.
    """
    login = read_state(state, settings)
    if login.user_id != str(user_id):
        log.warning("instagram login refused", extra={"reason": "other_user", "workspace_id": login.workspace_id})
        raise StateOfAnotherUserError()
    async with db.transaction() as tx:
        await require_role(tx, user_id=login.user_id, workspace_id=login.workspace_id, minimum="owner")
        consumed = await tx.fetch_one(QUERIES["consume_oauth_state"], {"nonce": login.nonce})
    if consumed is None:
        log.info("instagram login refused", extra={"reason": "state_used", "workspace_id": login.workspace_id})
        raise InvalidStateError("This Instagram sign-in was already used or has expired; start again.")

    step = "token_exchange"
    try:
        short = await client.exchange_code(code, redirect_uri=redirect_uri(settings))
        long = await client.exchange_long_lived(short.access_token)
        step = "profile"
        profile = await client.me(long.access_token)
    except InstagramError as exc:
        log.warning(
            "instagram login failed",
            extra={
                "step": step,
                "error": type(exc).__name__,
                "ig_code": exc.meta_code,
                "ig_subcode": exc.subcode,
                "fbtrace_id": exc.fbtrace_id,
                "workspace_id": login.workspace_id,
            },
        )
        raise _login_error(exc, step) from None

    expires_at = datetime.now(UTC) + timedelta(seconds=long.expires_in) if long.expires_in else None
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
    log.info(
        "instagram account connected",
        extra={"workspace_id": login.workspace_id, "instagram_account_id": stored.id, "reconnect": not stored.created},
    )
    return ConnectedAccount(stored, login.redirect_to)


def _login_error(exc: InstagramError, step: str) -> AppError:
    """What the frontend is told when Instagram fails during the login (never Instagram's token errors as a
    401: that would read as "your own sign-in expired")."""
    if isinstance(exc, ThrottledError):
        return RateLimitedError("Instagram is limiting requests; try again later.", retry_after=exc.retry_after)
    if isinstance(exc, TransientError | UnknownOutcomeError):
        return DependencyUnavailableError("Instagram is not answering; start again in a moment.")
    if step == "token_exchange" or isinstance(exc, TokenInvalidError):
        return InvalidCodeError()
    return InstagramError("Instagram would not share the account's profile; start again.")
