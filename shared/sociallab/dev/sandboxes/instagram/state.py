"""What the Instagram sandbox remembers and how it behaves, without HTTP: accounts, tokens, containers,
published media, the 24 h publishing window and per-account hourly call budgets.

Every operation is synchronous and runs under one lock, so a request's state change is atomic even with
many requests in flight on the server's event loop and tests reading counters from another thread. Time
comes from the injected `clock` (seconds), so tests move it instead of sleeping. Failures raise `MetaError`,
which the app renders as Meta's ``{"error": {...}}`` payload.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 5_184_000  # 60 days
CODE_SECONDS = 3600
REFRESH_MIN_AGE = 86_400
PUBLISH_WINDOW = 86_400
USAGE_WINDOW = 3600
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
SCOPES = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
]
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been published.",
    "EXPIRED": "Expired: The container was not published within 24 hours and has expired.",
}


class MetaError(Exception):
    """A failure rendered as Meta's error payload."""

    def __init__(
        self,
        http_status: int,
        code: int | None,
        message: str,
        *,
        subcode: int | None = None,
        error_type: str | None = None,
        is_transient: bool = False,
        regain_minutes: int = 0,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.error_type = error_type or ("OAuthException" if code in {190, 4, 17, 32, 613} else "IGApiException")
        self.is_transient = is_transient
        self.regain_minutes = regain_minutes

    def payload(self) -> dict[str, Any] | None:
        if self.code is None:
            return None
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": "A" + secrets.token_hex(10),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def invalid_token(
    message: str = "Invalid OAuth access token - Cannot parse access token", subcode: int | None = None
) -> MetaError:
    return MetaError(400, 190, message, subcode=subcode, error_type="OAuthException")


def bad_param(message: str, subcode: int | None = None) -> MetaError:
    return MetaError(400, 100, message, subcode=subcode)


@dataclass
class Account:
    ig_user_id: str
    username: str
    name: str | None = None
    account_type: str = "BUSINESS"
    followers_count: int = 1200
    audience_peak_hour: float = 19  # UTC hour its followers are most online (insights)
    throttled_until: float = 0.0
    calls: deque[float] = field(default_factory=deque)
    publishes: deque[float] = field(default_factory=deque)


@dataclass
class Token:
    ig_user_id: str
    kind: str  # short | long
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class Container:
    id: str
    ig_user_id: str
    media_type: str
    created_at: float
    image_url: str | None = None
    caption: str | None = None
    alt_text: str | None = None
    children: list[str] = field(default_factory=list)
    is_carousel_item: bool = False
    error: str | None = None
    media_id: str | None = None


@dataclass
class Media:
    id: str
    container_id: str
    ig_user_id: str
    media_type: str
    caption: str | None
    image_urls: list[str]
    published_at: float
    permalink: str
    comments: list[dict[str, str]] = field(default_factory=list)


class SandboxState:
    """Accounts, tokens, containers and media of the fake Instagram; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        container_ready_after: float,
        container_ttl: float,
        publish_limit: int,
        calls_per_hour: int,
        app_id: str | None,
        app_secret: str | None,
    ) -> None:
        self.clock = clock
        self.container_ready_after = container_ready_after
        self.container_ttl = container_ttl
        self.publish_limit = publish_limit
        self.calls_per_hour = calls_per_hour
        self.app_id = app_id
        self.app_secret = app_secret
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, tuple[str, float]] = {}
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.rejected_image_markers: set[str] = set()
        self.calls: Counter[str] = Counter()
        self._publish_counts: Counter[str] = Counter()
        self._by_caption: Counter[str] = Counter()
        self._ids = itertools.count(17_900_000_000_000_001)

    # --- setup (tests, dev server) --------------------------------------------------------------------

    def add_account(
        self,
        *,
        ig_user_id: str,
        username: str,
        token: str,
        expires_in: int = LONG_LIVED_SECONDS,
        issued_at: float | None = None,
        name: str | None = None,
        followers_count: int = 1200,
        account_type: str = "BUSINESS",
        audience_peak_hour: float = 19,
    ) -> None:
        """Register a professional account with a long-lived `token` issued at `issued_at` (default now);
        its followers are online most around `audience_peak_hour` (UTC)."""
        with self.lock:
            now = self.clock()
            account = self.accounts.get(ig_user_id)
            if account is None:
                account = Account(
                    ig_user_id, username, name or username, account_type, followers_count, audience_peak_hour
                )
                self.accounts[ig_user_id] = account
            issued = now if issued_at is None else issued_at
            self.tokens[token] = Token(ig_user_id, "long", issued, issued + expires_in)

    def issue_code(self, ig_user_id: str) -> str:
        """An authorization code (single use, 1 h) as Instagram's consent page would hand out."""
        with self.lock:
            if ig_user_id not in self.accounts:
                raise KeyError(ig_user_id)
            code = "sbxcode_" + secrets.token_urlsafe(24)
            self.codes[code] = (ig_user_id, self.clock() + CODE_SECONDS)
            return code

    def revoke_tokens(self, ig_user_id: str) -> None:
        """Invalidate every token of the account (the user changed their password): calls answer 190."""
        with self.lock:
            for record in self.tokens.values():
                if record.ig_user_id == ig_user_id:
                    record.revoked = True

    def throttle(self, ig_user_id: str, seconds: float) -> None:
        """Throttle the account for `seconds`: every call answers 80002 with the regain time in the headers."""
        with self.lock:
            self.accounts[ig_user_id].throttled_until = self.clock() + seconds

    def reject_images(self, marker: str) -> None:
        """Containers whose image URL contains `marker` end in status ERROR (a bad image)."""
        with self.lock:
            self.rejected_image_markers.add(marker)

    # --- counters ---------------------------------------------------------------------------------------

    def publish_count(self, container_id: str) -> int:
        """How many media a publish of this container created (exactly-once means 1)."""
        with self.lock:
            return self._publish_counts[container_id]

    def publishes_by_caption(self) -> Counter[str]:
        """How many media were published per caption (exactly-once means every value is 1)."""
        with self.lock:
            return Counter(self._by_caption)

    def published_media(self) -> list[dict[str, Any]]:
        """Every published media, oldest first."""
        with self.lock:
            return [_media_dict(m) for m in sorted(self.media.values(), key=lambda m: (m.published_at, m.id))]

    # --- auth -------------------------------------------------------------------------------------------

    def account_for(self, token: str | None) -> Account:
        """The account a token belongs to. Raises MetaError 190 for unknown, revoked or expired tokens."""
        record = self.tokens.get(token or "")
        if record is None:
            raise invalid_token()
        if record.revoked:
            raise invalid_token(
                "Error validating access token: The session has been invalidated because the "
                "user changed their password or Facebook has changed the session for security "
                "reasons.",
                subcode=460,
            )
        if self.clock() >= record.expires_at:
            raise invalid_token("Error validating access token: Session has expired.", subcode=463)
        return self.accounts[record.ig_user_id]

    def charge(self, account: Account) -> None:
        """Count one call against the account's hourly budget; raise 80002 while it is throttled or over it."""
        now = self.clock()
        account.calls.append(now)
        while account.calls and account.calls[0] <= now - USAGE_WINDOW:
            account.calls.popleft()
        if account.throttled_until > now or len(account.calls) > self.calls_per_hour:
            raise MetaError(
                400,
                80002,
                "There have been too many calls to this Instagram account. Wait a bit and try again.",
                error_type="OAuthException",
                regain_minutes=self.regain_minutes(account),
            )

    def regain_minutes(self, account: Account) -> int:
        now = self.clock()
        waits = [account.throttled_until - now]
        if len(account.calls) >= self.calls_per_hour and account.calls:
            waits.append(account.calls[0] + USAGE_WINDOW - now)
        wait = max(waits)
        return max(1, int(-(-wait // 60))) if wait > 0 else 0

    def usage(self, account: Account) -> dict[str, Any]:
        """The account's entry of X-Business-Use-Case-Usage (percent of the hourly budget)."""
        pct = min(100, round(100 * len(account.calls) / max(1, self.calls_per_hour)))
        if account.throttled_until > self.clock():
            pct = 100
        return {
            "type": "instagram",
            "call_count": pct,
            "total_cputime": pct // 2,
            "total_time": pct // 2,
            "estimated_time_to_regain_access": self.regain_minutes(account),
        }

    def app_usage(self) -> dict[str, int]:
        total = sum(len(a.calls) for a in self.accounts.values())
        pct = min(100, round(100 * total / max(1, self.calls_per_hour * max(1, len(self.accounts)) * 10)))
        return {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}

    def check_app(self, client_id: str | None, client_secret: str | None) -> None:
        if self.app_id is not None and client_id is not None and client_id != self.app_id:
            raise MetaError(
                400, 101, "Error validating application. Invalid application ID.", error_type="OAuthException"
            )
        if self.app_secret is not None and client_secret != self.app_secret:
            raise MetaError(400, 101, "Error validating client secret.", error_type="OAuthException")

    def exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        self.check_app(form.get("client_id"), form.get("client_secret"))
        if form.get("grant_type") != "authorization_code":
            raise MetaError(400, 400, "Invalid grant_type", error_type="OAuthException")
        entry = self.codes.pop(form.get("code") or "", None)
        if entry is None or self.clock() >= entry[1]:
            raise MetaError(400, 400, "Invalid authorization code", error_type="OAuthException")
        token = "IGQsbxshort" + secrets.token_urlsafe(32)
        now = self.clock()
        self.tokens[token] = Token(entry[0], "short", now, now + SHORT_LIVED_SECONDS)
        return {"access_token": token, "user_id": entry[0], "permissions": ",".join(SCOPES)}

    def exchange_long_lived(self, params: dict[str, str]) -> dict[str, Any]:
        self.check_app(None, params.get("client_secret"))
        if params.get("grant_type") != "ig_exchange_token":
            raise bad_param("Unsupported grant_type; expected ig_exchange_token")
        account = self.account_for(params.get("access_token"))
        if self.tokens[params["access_token"]].kind != "short":
            raise bad_param("The access token is already long-lived; refresh it instead")
        return self._new_long_lived(account)

    def refresh(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "ig_refresh_token":
            raise bad_param("Unsupported grant_type; expected ig_refresh_token")
        account = self.account_for(params.get("access_token"))
        record = self.tokens[params["access_token"]]
        if record.kind != "long":
            raise bad_param("Only long-lived tokens can be refreshed")
        if self.clock() - record.issued_at < REFRESH_MIN_AGE:
            raise bad_param("The access token must be at least 24 hours old to be refreshed")
        return self._new_long_lived(account)

    def _new_long_lived(self, account: Account) -> dict[str, Any]:
        token = "IGQsbxlong" + secrets.token_urlsafe(32)
        now = self.clock()
        self.tokens[token] = Token(account.ig_user_id, "long", now, now + LONG_LIVED_SECONDS)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": LONG_LIVED_SECONDS,
            "permissions": ",".join(SCOPES),
        }

    def profile(self, account: Account, fields: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": "sbxscoped" + account.ig_user_id,
            "user_id": account.ig_user_id,
            "username": account.username,
            "name": account.name,
            "account_type": account.account_type,
            "profile_picture_url": f"https://sandbox.invalid/pictures/{account.ig_user_id}.jpg",
            "followers_count": account.followers_count,
            "media_count": sum(1 for m in self.media.values() if m.ig_user_id == account.ig_user_id),
        }
        wanted = [f for f in fields.split(",") if f] or ["id", "username"]
        return {"id": values["id"], **{f: values[f] for f in wanted if f in values}}

    # --- content ----------------------------------------------------------------------------------------

    def _next_id(self) -> str:
        return str(next(self._ids))

    def status_of(self, container: Container) -> str:
        if container.media_id is not None:
            return "PUBLISHED"
        if container.error is not None:
            return "ERROR"
        age = self.clock() - container.created_at
        if age >= self.container_ttl:
            return "EXPIRED"
        return "FINISHED" if age >= self.container_ready_after else "IN_PROGRESS"

    def container(self, object_id: str, account: Account) -> Container:
        found = self.containers.get(object_id)
        if found is None or found.ig_user_id != account.ig_user_id:
            raise bad_param(
                f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        return found

    def owner(self, account: Account, ig_user_id: str) -> None:
        if ig_user_id not in {account.ig_user_id, "me"}:
            raise bad_param(
                f"Unsupported post request. Object with ID '{ig_user_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )


def _media_dict(media: Media) -> dict[str, Any]:
    return {
        "id": media.id,
        "container_id": media.container_id,
        "ig_user_id": media.ig_user_id,
        "media_type": media.media_type,
        "caption": media.caption,
        "image_urls": list(media.image_urls),
        "published_at": media.published_at,
        "permalink": media.permalink,
        "comments": [dict(c) for c in media.comments],
    }
