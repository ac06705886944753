"""The Instagram Graph API client (Instagram API with Instagram Login: graph.instagram.com + api.instagram.com).

One `InstagramClient` wraps an injected `httpx.AsyncClient` (explicit timeouts; `from_settings` builds one with
10 s read / 5 s connect). Every method raises only `sociallab.instagram.errors.InstagramError` subclasses, never
raw httpx errors. Tokens and the app secret travel as Meta documents them (``access_token`` query parameter on
GETs, form field on POSTs) and never appear in exception messages or in our logs.

Timeouts and dropped connections are classified by what the request could have done:

- the connection was never made (connect error/timeout, pool timeout): `TransientError` for every method;
- the request was sent and the answer lost, on an idempotent read (status, limit, permalink, recent media,
  me, token exchanges): `TransientError` — asking again is safe;
- the same on a write whose repetition is harmful (`publish`, `comment`), or a 5xx / transient Meta error on
  those writes: `UnknownOutcomeError` — check the container's ``status_code`` before doing anything else.
  `create_container` keeps `TransientError`: a lost container is an orphan that never goes out.

Each response's ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers are remembered per account;
`usage_for(ig_user_id)` gives the last figure (a successful call at 95 % does not raise — pause the account).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from sociallab.config import Settings
from sociallab.errors import ConfigurationError
from sociallab.instagram.errors import (
    InsightsUnavailableError,
    InstagramError,
    PermanentError,
    TransientError,
    UnknownOutcomeError,
    classify,
)
from sociallab.instagram.insights import (
    ACCOUNT_METRICS,
    InsightsMedia,
    OnlineHour,
    online_hours_utc,
    parse_media_list,
    parse_values,
    unsupported_metrics,
)
from sociallab.instagram.models import (
    Profile,
    PublishingLimit,
    RecentMedia,
    TokenGrant,
    int_or_none,
    parse_timestamp,
    permission_list,
)
from sociallab.instagram.usage import Usage, parse_usage
from sociallab.logging import get_logger

if TYPE_CHECKING:  # httpx is loaded when a client is made (cold start: issue 7)
    import httpx

__all__ = ["InstagramClient", "MediaType", "Profile", "PublishingLimit", "RecentMedia", "TokenGrant", "Usage"]

MediaType = Literal["IMAGE", "CAROUSEL", "STORIES"]
PROFILE_FIELDS = "user_id,username,name,account_type,profile_picture_url,followers_count"
RECENT_MEDIA_FIELDS = "id,caption,timestamp,permalink"
INSIGHTS_MEDIA_FIELDS = "id,media_type,media_product_type,timestamp"
MISSING_OBJECT_SUBCODE = 33  # "Object with ID ... does not exist": a deleted media, not a refused metric
MAX_MEDIA_PAGE = 100
TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS = 10.0, 5.0
_MAX_REMEMBERED = 10_000

log = get_logger(__name__)


def new_http_client(**options: Any) -> httpx.AsyncClient:
    """An HTTP client with the Graph API's timeouts (`options` go to `httpx.AsyncClient`)."""
    import httpx

    return httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS), **options)


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


class InstagramClient:
    """Calls the Graph API; see the module docstring for how failures are typed."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        graph_url: str,
        oauth_url: str,
        api_version: str,
        app_id: str | None = None,
        app_secret: str | None = None,
    ) -> None:
        self._http = http
        self._graph = graph_url.rstrip("/")
        self._oauth = oauth_url.rstrip("/")
        self._version = api_version.strip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._usage: dict[str, Usage] = {}
        self._calls: Counter[str] = Counter()  # Graph requests sent per account (what budgets count)
        self._owner: dict[str, str] = {}  # token hash / container id / media id -> ig_user_id

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> InstagramClient:
        """A client configured from `settings` (app id/secret optional until an OAuth method is called)."""
        secret = settings.instagram_app_secret.get_secret_value() if settings.instagram_app_secret else None
        return cls(
            http or new_http_client(),
            graph_url=settings.instagram_graph_url,
            oauth_url=settings.instagram_oauth_url,
            api_version=settings.instagram_api_version,
            app_id=settings.instagram_app_id,
            app_secret=secret,
        )

    # --- OAuth -------------------------------------------------------------------------------------------

    def _app_credentials(self) -> tuple[str, str]:
        if not self._app_id or not self._app_secret:
            raise ConfigurationError("Missing configuration: INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET must be set.")
        return self._app_id, self._app_secret

    def authorize_url(self, *, redirect_uri: str, state: str, scopes: list[str], authorize_url: str) -> str:
        """The Instagram consent page URL to send the user to.

        Raises:
            ConfigurationError: INSTAGRAM_APP_ID is not configured.
        """
        if not self._app_id:
            raise ConfigurationError("Missing configuration: INSTAGRAM_APP_ID must be set.")
        query = urlencode(
            {
                "client_id": self._app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": ",".join(scopes),
                "state": state,
            }
        )
        return f"{authorize_url}?{query}"

    async def exchange_code(self, code: str, *, redirect_uri: str) -> TokenGrant:
        """Trade the authorization code for a short-lived token (about 1 hour).

        Raises:
            ConfigurationError: app id/secret missing. InstagramError subclasses: the code was refused
            (PermanentError), Instagram is down (TransientError), ...
        """
        app_id, app_secret = self._app_credentials()
        form = {
            "client_id": app_id,
            "client_secret": app_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        }
        body = await self._call("POST", f"{self._oauth}/oauth/access_token", kind="token", data=form, safe=True)
        if isinstance(body.get("data"), list) and body["data"]:
            body = body["data"][0]
        return self._grant(body)

    async def exchange_long_lived(self, short_token: str) -> TokenGrant:
        """Trade a short-lived token for a long-lived one (60 days).

        Raises:
            ConfigurationError: app secret missing. TokenInvalidError: the short-lived token is invalid or
            expired. Other InstagramError subclasses as classified.
        """
        _, app_secret = self._app_credentials()
        params = {"grant_type": "ig_exchange_token", "client_secret": app_secret, "access_token": short_token}
        body = await self._call("GET", f"{self._graph}/access_token", kind="token", params=params, safe=True)
        return self._grant(body)

    async def refresh_token(self, token: str) -> TokenGrant:
        """Refresh a long-lived token (it must be at least 24 h old and unexpired) for another 60 days.

        Raises:
            TokenInvalidError: the token is invalid or expired. Other InstagramError subclasses as classified.
        """
        params = {"grant_type": "ig_refresh_token", "access_token": token}
        body = await self._call("GET", f"{self._graph}/refresh_access_token", kind="token", params=params, safe=True)
        return self._grant(body)

    @staticmethod
    def _grant(body: Mapping[str, Any]) -> TokenGrant:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("Instagram's token response had no access token.")
        user_id = body.get("user_id")
        return TokenGrant(
            access_token=token,
            user_id=str(user_id) if user_id is not None else None,
            expires_in=int_or_none(body.get("expires_in")),
            permissions=permission_list(body.get("permissions")),
        )

    async def me(self, token: str) -> Profile:
        """The professional account the token belongs to.

        Raises:
            TokenInvalidError, TransientError, ThrottledError, PermanentError.
        """
        body = await self._read("me", kind="me", fields=PROFILE_FIELDS, token=token)
        ig_user_id = str(body.get("user_id") or body.get("id") or "")
        if not ig_user_id or not body.get("username"):
            raise PermanentError("Instagram's profile response had no user id or username.")
        self._remember(_token_key(token), ig_user_id)
        return Profile(
            ig_user_id=ig_user_id,
            username=str(body["username"]),
            name=body.get("name"),
            account_type=body.get("account_type"),
            profile_picture_url=body.get("profile_picture_url"),
            followers_count=int_or_none(body.get("followers_count")),
        )

    # --- publishing --------------------------------------------------------------------------------------

    async def create_container(
        self,
        ig_user_id: str,
        token: str,
        *,
        media_type: MediaType,
        image_url: str | None = None,
        caption: str | None = None,
        alt_text: str | None = None,
        children: list[str] | None = None,
        is_carousel_item: bool = False,
    ) -> str:
        """Create a media container and return its id (IMAGE: `image_url`; CAROUSEL: 2-10 `children`
        container ids; STORIES: `image_url`). A carousel item is an IMAGE with `is_carousel_item=True`
        and no caption. An empty caption is not sent (the media has none).

        Raises:
            PermanentError (bad parameters, image rejected), MediaUnfetchableError, TokenInvalidError,
            ThrottledError, TransientError (safe to retry: a lost container is never published).
        """
        form: dict[str, str] = {"access_token": token}
        if media_type != "IMAGE":
            form["media_type"] = media_type
        if image_url is not None:
            form["image_url"] = image_url
        if caption and not is_carousel_item:
            form["caption"] = caption
        if alt_text is not None:
            form["alt_text"] = alt_text
        if children:
            form["children"] = ",".join(children)
        if is_carousel_item:
            form["is_carousel_item"] = "true"
        body = await self._call(
            "POST", self._url(f"{ig_user_id}/media"), kind="create", data=form, token=token, account=ig_user_id
        )
        container_id = self._id(body, "container")
        self._remember(container_id, ig_user_id)
        return container_id

    async def container_status(self, container_id: str, token: str) -> str:
        """The container's ``status_code``: IN_PROGRESS, FINISHED, ERROR, EXPIRED or PUBLISHED.

        Raises:
            ContainerExpiredError (the container no longer exists), TokenInvalidError, ThrottledError,
            TransientError.
        """
        body = await self._read(
            container_id, kind="status", fields="status_code,status", token=token, account=self._owner.get(container_id)
        )
        status = body.get("status_code")
        if not isinstance(status, str):
            raise TransientError("Instagram's container status response had no status_code.")
        return status

    async def publish(self, ig_user_id: str, token: str, creation_id: str) -> str:
        """Publish a FINISHED container; returns the new media id.

        Raises:
            UnknownOutcomeError: the request was sent but the answer was lost or was a server error — it may
            have gone out; read `container_status` (PUBLISHED means it did) instead of publishing again.
            ContainerNotReadyError, ContainerExpiredError, PublishLimitError, TokenInvalidError,
            ThrottledError, PermanentError.
        """
        form = {"creation_id": creation_id, "access_token": token}
        body = await self._call(
            "POST",
            self._url(f"{ig_user_id}/media_publish"),
            kind="publish",
            data=form,
            token=token,
            account=ig_user_id,
            effectful=True,
        )
        media_id = self._id(body, "media", unknown=True)
        self._remember(media_id, ig_user_id)
        return media_id

    async def publishing_limit(self, ig_user_id: str, token: str) -> PublishingLimit:
        """The account's publishing quota: used and total in the current (24 h) window.

        Raises:
            TokenInvalidError, ThrottledError, TransientError, PermanentError.
        """
        body = await self._read(
            f"{ig_user_id}/content_publishing_limit",
            kind="limit",
            fields="config,quota_usage",
            token=token,
            account=ig_user_id,
        )
        rows = body.get("data")
        row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else body
        config: Mapping[str, Any] = row["config"] if isinstance(row.get("config"), Mapping) else {}
        return PublishingLimit(
            quota_usage=int_or_none(row.get("quota_usage")) or 0,
            quota_total=int_or_none(config.get("quota_total")) or 100,
            window_seconds=int_or_none(config.get("quota_duration")) or 86400,
        )

    async def comment(self, media_id: str, token: str, message: str) -> str:
        """Add a comment (the "first comment") to a published media; returns the comment id.

        Raises:
            UnknownOutcomeError (sent, answer lost: do not repeat blindly), TokenInvalidError, ThrottledError,
            PermanentError (e.g. missing instagram_business_manage_comments permission).
        """
        form = {"message": message, "access_token": token}
        body = await self._call(
            "POST",
            self._url(f"{media_id}/comments"),
            kind="comment",
            data=form,
            token=token,
            account=self._owner.get(media_id),
            effectful=True,
        )
        return self._id(body, "comment", unknown=True)

    async def permalink(self, media_id: str, token: str) -> str:
        """The public URL of a published media.

        Raises:
            TokenInvalidError, ThrottledError, TransientError, PermanentError.
        """
        body = await self._read(
            media_id, kind="permalink", fields="permalink", token=token, account=self._owner.get(media_id)
        )
        link = body.get("permalink")
        if not isinstance(link, str) or not link:
            raise TransientError("Instagram's media response had no permalink yet.")
        return link

    async def recent_media(self, ig_user_id: str, token: str, *, limit: int = 25) -> list[RecentMedia]:
        """The account's latest feed media, newest first: the first page of ``GET /{ig_user_id}/media``
        (`limit` clamped to 1..100). Stories are not on this edge. Used to find the media a publish whose
        answer was lost became (Instagram's container does not name it).

        Raises:
            TokenInvalidError, ThrottledError, TransientError (also a lost answer: the read is safe to
            repeat), PermanentError.
        """
        body = await self._media_page(ig_user_id, token, fields=RECENT_MEDIA_FIELDS, limit=limit)
        rows = body["data"]
        media: list[RecentMedia] = []
        for row in rows:
            if not isinstance(row, Mapping) or row.get("id") in (None, ""):
                continue
            media_id = str(row["id"])
            caption, link = row.get("caption"), row.get("permalink")
            media.append(
                RecentMedia(
                    id=media_id,
                    caption=caption if isinstance(caption, str) else None,
                    timestamp=parse_timestamp(row.get("timestamp")),
                    permalink=link if isinstance(link, str) and link else None,
                )
            )
            self._remember(media_id, ig_user_id)
        return media

    async def _media_page(self, ig_user_id: str, token: str, *, fields: str, limit: int) -> dict[str, Any]:
        """One page of ``GET /{ig_user_id}/media`` (`limit` clamped to 1..100); its ``data`` is a list.

        Raises:
            TokenInvalidError, ThrottledError, TransientError (also an answer without data), PermanentError.
        """
        body = await self._read(
            f"{ig_user_id}/media",
            kind="media_list",
            fields=fields,
            token=token,
            account=ig_user_id,
            limit=str(max(1, min(limit, MAX_MEDIA_PAGE))),
        )
        if not isinstance(body.get("data"), list):
            raise TransientError("Instagram's media list response had no data.")
        return body

    # --- insights ----------------------------------------------------------------------------------------

    async def insights_media(self, ig_user_id: str, token: str, *, limit: int = 30) -> list[InsightsMedia]:
        """The account's newest feed media (up to `limit`, one page) with their type and time.

        Raises:
            TokenInvalidError, ThrottledError, TransientError, PermanentError.
        """
        body = await self._media_page(ig_user_id, token, fields=INSIGHTS_MEDIA_FIELDS, limit=limit)
        media = parse_media_list(body)
        for item in media:
            self._remember(item.id, ig_user_id)
        return media

    async def account_insights(
        self,
        ig_user_id: str,
        token: str,
        *,
        since: datetime,
        until: datetime,
        metrics: Sequence[str] = ACCOUNT_METRICS,
    ) -> dict[str, float]:
        """Daily totals (``metric_type=total_value``, ``period=day``) over [since, until); a metric Instagram
        does not return is absent from the answer, and one it refuses (error 100) is left out, not the rest.

        Raises:
            InsightsUnavailableError (error 10: not enough data), TokenInvalidError, ThrottledError,
            TransientError, PermanentError.
        """
        params = {
            "metric_type": "total_value",
            "period": "day",
            "since": str(int(since.timestamp())),
            "until": str(int(until.timestamp())),
        }
        return await self._metrics(f"{ig_user_id}/insights", "account_insights", token, ig_user_id, metrics, params)

    async def online_followers(
        self, ig_user_id: str, token: str, *, since: datetime, until: datetime
    ) -> list[OnlineHour]:
        """Followers online per hour over [since, until) (at most the last 30 days), as UTC hours (see
        `sociallab.instagram.insights` for the conversion). Empty below 100 followers.

        Raises:
            InsightsUnavailableError, TokenInvalidError, ThrottledError, TransientError, PermanentError.
        """
        params = {
            "metric": "online_followers",
            "period": "lifetime",
            "since": str(int(since.timestamp())),
            "until": str(int(until.timestamp())),
            "access_token": token,
        }
        body = await self._call(
            "GET", self._url(f"{ig_user_id}/insights"), kind="audience", params=params, token=token,
            account=ig_user_id, safe=True,
        )  # fmt: skip
        return online_hours_utc(body)

    async def media_insights(
        self, media_id: str, token: str, *, metrics: Sequence[str], ig_user_id: str | None = None
    ) -> dict[str, float]:
        """The media's lifetime metrics; a metric Instagram does not return is absent, and one it refuses
        for this media type (error 100) is dropped and the others asked again, never lost.

        Raises:
            InsightsUnavailableError (error 10: e.g. a story with fewer than 5 viewers), PermanentError (the
            media is gone), TokenInvalidError, ThrottledError, TransientError.
        """
        account = ig_user_id or self._owner.get(media_id)
        return await self._metrics(f"{media_id}/insights", "media_insights", token, account, metrics, {})

    async def _metrics(
        self,
        path: str,
        kind: str,
        token: str,
        account: str | None,
        metrics: Sequence[str],
        params: dict[str, str],
    ) -> dict[str, float]:
        """Ask for `metrics`; on error 100 drop the metrics the message names and ask again; when it names
        none, ask for each metric alone (a metric refused alone is absent)."""
        wanted = list(metrics)
        while wanted:
            query = {**params, "metric": ",".join(wanted), "access_token": token}
            try:
                body = await self._call(
                    "GET", self._url(path), kind=kind, params=query, token=token, account=account, safe=True
                )
                return parse_values(body)
            except PermanentError as exc:
                if (
                    exc.meta_code != 100
                    or exc.subcode == MISSING_OBJECT_SUBCODE
                    or isinstance(exc, InsightsUnavailableError)
                ):
                    raise
                refused = unsupported_metrics(exc.message, wanted)
                if refused:
                    wanted = [m for m in wanted if m not in refused]
                    continue
                if len(wanted) == 1:
                    return {}
                found: dict[str, float] = {}
                for metric in wanted:
                    found.update(await self._metrics(path, kind, token, account, [metric], params))
                return found
        return {}

    def calls_for(self, ig_user_id: str) -> int:
        """How many Graph requests this client sent for the account."""
        return self._calls[ig_user_id]

    def usage_for(self, ig_user_id: str) -> Usage | None:
        """The usage figure of the last response seen for this account (None before any)."""
        return self._usage.get(ig_user_id)

    # --- plumbing ----------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._graph}/{self._version}/{path}"

    def _remember(self, key: str, ig_user_id: str) -> None:
        if len(self._owner) >= _MAX_REMEMBERED:
            self._owner.pop(next(iter(self._owner)))
        self._owner[key] = ig_user_id

    @staticmethod
    def _id(body: Mapping[str, Any], what: str, *, unknown: bool = False) -> str:
        value = body.get("id")
        if value is None or value == "":
            error = UnknownOutcomeError if unknown else TransientError
            raise error(f"Instagram's answer had no {what} id.")
        return str(value)

    async def _read(
        self, path: str, *, kind: str, fields: str, token: str, account: str | None = None, **params: str
    ) -> dict[str, Any]:
        """A read of `fields` of a Graph object: safe to repeat, so a lost answer is only transient."""
        query = {"fields": fields, **params, "access_token": token}
        return await self._call(
            "GET", self._url(path), kind=kind, params=query, token=token, account=account, safe=True
        )

    async def _call(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        token: str | None = None,
        account: str | None = None,
        safe: bool = False,
        effectful: bool = False,
    ) -> dict[str, Any]:
        """Send one request; the decoded JSON object, or the typed error."""
        if account is None and token is not None:
            account = self._owner.get(_token_key(token))
        elif account is not None and token is not None:
            self._remember(_token_key(token), account)
        if account is not None:
            self._calls[account] += 1
        import httpx

        try:
            response = await self._http.request(method, url, params=params, data=data)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            log.warning("instagram request not sent", extra={"endpoint": kind, "error": type(exc).__name__})
            raise TransientError(f"Could not reach Instagram ({type(exc).__name__}).") from None
        except httpx.TransportError as exc:
            log.warning("instagram request lost", extra={"endpoint": kind, "error": type(exc).__name__})
            lost = UnknownOutcomeError if effectful else TransientError
            raise lost(f"Instagram's answer was lost ({type(exc).__name__}).") from None
        usage = parse_usage(response.headers, account)
        if usage is not None and account is not None:
            self._usage[account] = usage
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body and len(body) == 1):
            error = classify(response.status_code, body if isinstance(body, dict) else None, response.headers)
            # On a write, a server-side failure may still have taken effect; a definite refusal (not ready,
            # throttled, token, limit, bad parameter: a 4xx with its code) did not.
            if effectful and (type(error) is TransientError or response.status_code >= 500):
                error = _unknown(error)
            log.info(
                "instagram error",
                extra={
                    "endpoint": kind,
                    "http_status": response.status_code,
                    "meta_code": error.meta_code,
                    "meta_subcode": error.subcode,
                    "error_class": type(error).__name__,
                    "fbtrace_id": error.fbtrace_id,
                },
            )
            raise error
        if not isinstance(body, dict):
            error_type = UnknownOutcomeError if effectful else TransientError
            raise error_type(f"Instagram answered HTTP {response.status_code} without a JSON object.")
        return body


def _unknown(error: InstagramError) -> UnknownOutcomeError:
    return UnknownOutcomeError(
        f"{error.message} (the request may have taken effect)",
        code=error.meta_code,
        subcode=error.subcode,
        fbtrace_id=error.fbtrace_id,
        http_status=error.http_status,
        error_type=error.error_type,
    )
