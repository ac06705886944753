"""Instagram Graph API errors, typed by what the caller should do about them.

Meta answers failures with ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``;
`classify` turns that (plus the HTTP status and the usage headers) into one of these. Whether to retry is a
property of the type, never of string matching::

    AppError
     └── InstagramError (502)                        .meta_code .subcode .fbtrace_id .http_status .message
          ├── TransientError                         retry with backoff: -1/2207001, 1, 2, is_transient, 5xx
          │    └── ContainerNotReadyError            9007 / 2207027: poll the container again later
          ├── UnknownOutcomeError                    timeout / dropped connection / 5xx on a write that may have
          │                                          taken effect: check state, never blindly repeat a publish
          ├── ThrottledError (429)                   4, 17, 32, 613, 80002..80010, usage >= 90 %: .retry_after
          ├── TokenInvalidError (401)                190 (102, 463, 467): the account needs to reconnect
          ├── PublishLimitError                      9 / 2207042: 24 h publishing quota reached
          ├── ContainerExpiredError                  24 / 2207008: create a new container
          └── PermanentError (422)                   bad parameter, image rejected, caption too long, ...: .reason
               ├── MediaUnfetchableError             9004 / 2207052: Meta could not download the image URL
               │                                     (worth a few retries before it is final)
               └── InsightsUnavailableError          10: not enough data / viewers for insights (small
                                                     accounts, stories under 5 viewers): the metrics are absent

Messages never contain tokens: Meta's text is passed through `sociallab.logging.redact`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sociallab.errors import AppError, DependencyUnavailableError, RateLimitedError, UnprocessableError
from sociallab.instagram.usage import parse_usage
from sociallab.logging import redact

DEFAULT_RETRY_AFTER = 60 * 60  # Meta's per-hour windows: without a hint, wait for the window to roll over.
TRANSIENT_CODES = frozenset({-1, 1, 2})
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_CODES = frozenset({190, 102, 463, 467})
READABLE_REASONS: dict[int, str] = {
    2207001: "Instagram had a server error; try again",
    2207003: "Instagram took too long to download the image",
    2207004: "The image is too large (Instagram accepts JPEG up to 8 MB)",
    2207005: "The image format is not supported (Instagram accepts JPEG only)",
    2207006: "The media could not be found; it may have been deleted",
    2207008: "The media container expired before it was published; create it again",
    2207009: "The image aspect ratio is not supported (between 4:5 and 1.91:1)",
    2207010: "The caption is too long or has too many hashtags or mentions",
    2207020: "The media container expired; create it again",
    2207023: "The media type is not supported",
    2207026: "The video format is not supported",
    2207027: "The media is not ready to publish yet",
    2207028: "A carousel needs between 2 and 10 items",
    2207042: "The account reached Instagram's 24 hour publishing limit",
    2207050: "The Instagram account is restricted or inactive",
    2207052: "Instagram could not download the image from its URL",
    2207053: "Instagram could not process the upload; try again",
}
READABLE_CODES: dict[int, str] = {
    9: "The account reached Instagram's 24 hour publishing limit",
    24: "The media container expired before it was published; create it again",
    100: "Instagram rejected a parameter of the request",
    190: "The Instagram access token is invalid or expired; reconnect the account",
    9004: "Instagram could not download the image from its URL",
    9007: "The media is not ready to publish yet",
    36000: "The image is too large (Instagram accepts JPEG up to 8 MB)",
    36001: "The image format is not supported (Instagram accepts JPEG only)",
    36003: "The image aspect ratio is not supported (between 4:5 and 1.91:1)",
}


class InstagramError(AppError):
    """Instagram answered with an error."""

    status = 502
    code = "instagram_error"  # the envelope's code; Meta's numeric `error.code` is `meta_code`

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(redact(message) if message else None)
        self.meta_code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.error_type = error_type

    @property
    def reason(self) -> str:
        """A sentence a user can read: what went wrong, with Meta's codes for support."""
        text = READABLE_REASONS.get(self.subcode or 0) or READABLE_CODES.get(self.meta_code or 0) or self.message
        codes = "/".join(str(c) for c in (self.meta_code, self.subcode) if c is not None)
        return f"{text} (Instagram error {codes})" if codes else text

    def to_app_error(self) -> AppError:
        """This error as one the HTTP layer renders (string envelope code, no Meta internals).

        Throttling -> 429 `RateLimitedError`; transient or unknown outcome -> 503 `DependencyUnavailableError`;
        anything else (refused, token invalid, limits) -> 422 `UnprocessableError` with the readable reason.
        """
        if isinstance(self, ThrottledError):
            return RateLimitedError(
                "Instagram is rate limiting this account; try again later.", retry_after=self.retry_after
            )
        if isinstance(self, TransientError | UnknownOutcomeError):
            return DependencyUnavailableError("Instagram is unavailable; try again shortly.")
        return UnprocessableError(self.reason)

    def __str__(self) -> str:
        codes = ", ".join(
            f"{name}={value}"
            for name, value in (("code", self.meta_code), ("subcode", self.subcode), ("status", self.http_status))
            if value is not None
        )
        return f"{self.message} [{codes}]" if codes else self.message


class TransientError(InstagramError):
    """Instagram had a temporary problem; try again with backoff."""

    status = 503


class ContainerNotReadyError(TransientError):
    """The media container is not ready to publish yet."""


class UnknownOutcomeError(InstagramError):
    """The request may or may not have taken effect (timeout, dropped connection, server error)."""

    status = 504


class ThrottledError(InstagramError):
    """Instagram is rate limiting this account or app."""

    status = 429

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after)) if retry_after else DEFAULT_RETRY_AFTER


class TokenInvalidError(InstagramError):
    """The Instagram access token is invalid or expired; the account must be reconnected."""

    status = 401


class PublishLimitError(InstagramError):
    """The account reached Instagram's 24 hour publishing limit."""

    status = 429


class ContainerExpiredError(InstagramError):
    """The media container expired or no longer exists; create a new one."""


class PermanentError(InstagramError):
    """Instagram refused the request; repeating it will not help."""

    status = 422


class MediaUnfetchableError(PermanentError):
    """Instagram could not download the image from its URL."""


class InsightsUnavailableError(PermanentError):
    """Instagram has not enough data to show these insights (error 10); the metrics are absent, not 0."""


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _kind(code: int | None, subcode: int | None, status: int, transient_flag: bool) -> type[InstagramError]:
    if code in TOKEN_CODES or subcode in {458, 459, 460, 463, 464, 467}:
        return TokenInvalidError
    if code in THROTTLE_CODES:
        return ThrottledError
    if code == 9 or subcode == 2207042:
        return PublishLimitError
    if code == 9007 or subcode == 2207027:
        return ContainerNotReadyError
    if code == 24 or subcode in {2207008, 2207020}:
        return ContainerExpiredError
    if code == 9004 or subcode == 2207052:
        return MediaUnfetchableError
    if code == 10:
        return InsightsUnavailableError
    if code in TRANSIENT_CODES or subcode in {2207001, 2207003, 2207053} or transient_flag:
        return TransientError
    if code is None and status >= 500:
        return TransientError
    if status >= 500 and code not in {100, 36000, 36001, 36003}:
        return TransientError
    if status == 429:
        return ThrottledError
    return PermanentError


def classify(status: int, payload: Mapping[str, Any] | None, headers: Mapping[str, str] | Any = None) -> InstagramError:
    """The typed error for a failed Graph API response (never raises; always returns an `InstagramError`).

    `payload` is the decoded JSON body (Meta's ``{"error": {...}}``; also the OAuth endpoints' flat
    ``{"error_type", "code", "error_message"}``) or None when the body was not JSON. A transient error on a
    response whose usage headers are at or above 90 % becomes a `ThrottledError`, as does any throttling code;
    its `retry_after` comes from ``estimated_time_to_regain_access`` when Meta sends it.
    """
    body: Mapping[str, Any] = {}
    if isinstance(payload, Mapping):
        inner = payload.get("error")
        body = inner if isinstance(inner, Mapping) else payload
    code = _int(body.get("code"))
    subcode = _int(body.get("error_subcode"))
    message = body.get("error_user_msg") or body.get("message") or body.get("error_message")
    if not isinstance(message, str) or not message:
        message = f"Instagram answered HTTP {status}"
    kind = _kind(code, subcode, status, bool(body.get("is_transient")))
    usage = parse_usage(headers) if headers is not None else None
    if kind is TransientError and usage is not None and usage.throttled:
        kind = ThrottledError
    fields: dict[str, Any] = {
        "code": code,
        "subcode": subcode,
        "fbtrace_id": body.get("fbtrace_id") if isinstance(body.get("fbtrace_id"), str) else None,
        "http_status": status,
        "error_type": body.get("type") or body.get("error_type"),
    }
    if kind is ThrottledError:
        retry_after = usage.regain_seconds if usage is not None else None
        return ThrottledError(message, retry_after=retry_after, **fields)
    return kind(message, **fields)
