"""What a failure means for a post and its account (the retry policy reads the error's type).

- lease lost: stop, write nothing;
- invalid token (190, no token, expired token): the post and the account's waiting posts are
  parked (`failed`, reason `reauth_required`), the account is `reauth_required`, one notification;
- a token that cannot be decrypted (a key gone from TOKEN_ENCRYPTION_KEY): retried, never parked;
- throttled: the account is paused until Instagram's regain time; the post waits, attempt refunded;
- publishing quota: due again when the 24 h window frees, attempt refunded;
- permanent (image rejected, container ERROR, invalid post, missing image): failed with the reason;
- transient (Instagram 5xx or timeouts, an unknown outcome, an expired or unready container, a
  dependency or a token key that is unavailable): an outage, not the post's fault. Retried with
  exponential backoff and full jitter without using an attempt, until the retry window after the
  post's time has passed; then failed with `retry_window_passed`, saying so in words;
- the post's own trouble that may pass (an image URL Instagram could not fetch, an unexpected
  error): retried using attempts, failed with `attempts_exhausted` after the last one.
Every failure tells the workspace with one notification (parking has the account's own).
"""

from __future__ import annotations

import re

from sociallab.crypto import DecryptionError
from sociallab.errors import AppError, NotFoundError
from sociallab.instagram.accounts import ReauthRequiredError
from sociallab.instagram.errors import (
    ContainerNotReadyError,
    InstagramError,
    MediaUnfetchableError,
    PermanentError,
    PublishLimitError,
    ThrottledError,
    TokenInvalidError,
)
from sociallab.logging import get_logger
from sociallab.publishing.backoff import backoff_delay
from sociallab.publishing.context import (
    ContainerFailedError,
    InterruptedTooOftenError,
    InvalidPostError,
    LeaseLostError,
    Outcome,
    QuotaReachedError,
    RunContext,
)
from sociallab.publishing.store import ClaimedPost

log = get_logger(__name__)

_QUOTA_WINDOW = 86_400
_TRY_AGAIN = re.compile(r"[;,.]?\s*(please\s+)?(try|retry)( it)? again( later| shortly)?\b.*$", re.IGNORECASE)


def _code(exc: BaseException) -> str | None:
    if isinstance(exc, InstagramError):
        return "/".join(str(c) for c in (exc.meta_code, exc.subcode) if c is not None) or None
    return None


async def handle_failure(ctx: RunContext, post: ClaimedPost, exc: Exception) -> Outcome:
    """Record what `exc` means for the post (and its account); see the module docstring.

    Raises:
        AppError: the outcome could not be written (the database is down); the lease will run out.
    """
    result = ctx.result
    if isinstance(exc, LeaseLostError):
        log.warning("lease lost; another run owns the post now")
        result.lost_lease += 1
        return Outcome.LOST
    if isinstance(exc, TokenInvalidError | ReauthRequiredError):
        return await _park(ctx, post, exc)
    if isinstance(exc, DecryptionError):
        # A key missing from TOKEN_ENCRYPTION_KEY is a deployment mistake, not a dead token: parking
        # every account for it would be worse than waiting for the configuration to be fixed.
        log.error("stored token cannot be decrypted", extra={"error": exc.message})
        return await _retry_transient(ctx, post, exc.message, None, reason="token_unreadable")
    if isinstance(exc, ThrottledError):
        usage = ctx.client.usage_for(post.ig_user_id)
        await pause(
            ctx, post.account_id, post, exc.retry_after, exc.reason, _code(exc), usage.max_pct if usage else None
        )
        return Outcome.PAUSED
    if isinstance(exc, QuotaReachedError | PublishLimitError):
        window = exc.window_seconds if isinstance(exc, QuotaReachedError) else _QUOTA_WINDOW
        error = exc.reason if isinstance(exc, PublishLimitError) else str(exc)
        await ctx.store.release_for_quota(
            post, window_seconds=window, fallback_seconds=ctx.config.quota_fallback_seconds,
            error=error, error_code=_code(exc),
        )  # fmt: skip
        result.rescheduled += 1
        return Outcome.RESCHEDULED
    if isinstance(exc, ContainerFailedError):
        return await _fail(ctx, post, "container_error", "Instagram could not process the image.", None)
    if isinstance(exc, InvalidPostError):
        return await _fail(ctx, post, "invalid_post", str(exc), None)
    if isinstance(exc, InterruptedTooOftenError):
        return await _fail(ctx, post, "interrupted_repeatedly", str(exc), None)
    if isinstance(exc, NotFoundError):  # Storage: the composed image is gone
        return await _fail(ctx, post, "image_missing", "An image of the post is missing from storage.", None)
    if isinstance(exc, MediaUnfetchableError):  # our image URL, so the post's own trouble: uses attempts
        return await _retry(ctx, post, exc.reason, _code(exc), reason="media_unfetchable")
    if isinstance(exc, PermanentError):
        return await _fail(ctx, post, "instagram_rejected", exc.reason, _code(exc))
    if isinstance(exc, ContainerNotReadyError):
        return await _retry_transient(ctx, post, exc.reason, _code(exc), reason="container_not_ready",
                                      delay=ctx.config.not_ready_retry_seconds)  # fmt: skip
    if isinstance(exc, InstagramError):  # 5xx, timeouts, unknown outcome, expired container
        return await _retry_transient(ctx, post, exc.reason, _code(exc), reason="transient")
    if isinstance(exc, AppError):  # storage or another dependency is unavailable
        return await _retry_transient(ctx, post, exc.message, None, reason="dependency")
    log.exception("unexpected error while publishing", exc_info=exc)
    result.errors += 1
    return await _retry(ctx, post, "An unexpected error occurred; it will be retried.", None, reason="internal_error")


async def _retry(ctx: RunContext, post: ClaimedPost, error: str, code: str | None, *, reason: str) -> Outcome:
    """Due again after a backoff, using an attempt; failed once the attempts are used up."""
    if post.attempts >= min(post.max_attempts, ctx.config.max_attempts):
        message = f"{_settled(error)}. It failed {post.attempts} times, so it was not published."
        return await _fail(ctx, post, "attempts_exhausted", message, code)
    cfg = ctx.config
    wait = backoff_delay(
        post.attempts, base=cfg.backoff_base_seconds, cap=cfg.backoff_cap_seconds, rng=ctx.rng,
        floor=cfg.backoff_floor_seconds,
    )  # fmt: skip
    return await _release(ctx, post, wait, error, code, reason=reason, transient=False)


async def _retry_transient(
    ctx: RunContext, post: ClaimedPost, error: str, code: str | None, *, reason: str, delay: float | None = None
) -> Outcome:
    """Due again after a backoff, without using an attempt, until the retry window after the post's time has
    passed (the last retry lands on its end); then failed, saying so."""
    cfg = ctx.config
    left = (post.scheduled_at - ctx.now()).total_seconds() + cfg.retry_window_seconds
    if left <= 0:
        hours = _duration(cfg.retry_window_seconds)
        return await _fail(
            ctx,
            post,
            "retry_window_passed",
            f"Instagram could not take the post for {hours} after its time ({_settled(error)}), so it was not "
            "published. Retry it or give it a new time once Instagram works again.",
            code,
        )
    wait = delay if delay is not None else backoff_delay(
        post.transient_failures + 1, base=cfg.backoff_base_seconds, cap=cfg.transient_backoff_cap_seconds,
        rng=ctx.rng, floor=cfg.backoff_floor_seconds,
    )  # fmt: skip
    return await _release(ctx, post, min(wait, left), error, code, reason=reason, transient=True)


async def _release(
    ctx: RunContext, post: ClaimedPost, wait: float, error: str, code: str | None, *, reason: str, transient: bool
) -> Outcome:
    due = await ctx.store.release_for_retry(
        post, delay_seconds=wait, reason=reason, error=error, error_code=code, transient=transient
    )
    if due is None:
        ctx.result.lost_lease += 1
        return Outcome.LOST
    log.info("post will be retried", extra={"reason": reason, "error_code": code, "attempt": post.attempts})
    ctx.result.retried += 1
    return Outcome.RETRY


async def _fail(ctx: RunContext, post: ClaimedPost, reason: str, error: str, code: str | None) -> Outcome:
    who = f"@{post.username}" if post.username else "your Instagram account"
    notice = f"A post for {who} was not published: {error}"
    if not await ctx.store.fail(post, reason=reason, error=error, error_code=code, notice=notice):
        ctx.result.lost_lease += 1
        return Outcome.LOST
    log.warning("post failed", extra={"reason": reason, "error_code": code, "attempt": post.attempts})
    ctx.result.failed += 1
    return Outcome.FAILED


def _settled(error: str) -> str:
    """An error as the last word on a post: without an invitation to try again (nobody will, on its own)."""
    return _TRY_AGAIN.sub("", error).rstrip(" .;,") or "no reason given"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} hour{'s' if minutes != 60 else ''}"
    return f"{minutes} minutes"


async def pause(
    ctx: RunContext,
    account_id: str,
    post: ClaimedPost | None,
    seconds: float | None,
    error: str,
    code: str | None,
    usage_pct: float | None,
) -> None:
    """Pause an account (Instagram throttles it, or its usage reached 90 %); its post in flight waits."""
    until = await ctx.store.pause_account(
        account_id,
        post=post,
        pause_seconds=float(seconds or ctx.config.throttle_default_seconds),
        error=error,
        error_code=code,
        usage_pct=usage_pct,
    )
    log.warning("account paused", extra={"rate_limited_until": until, "usage_pct": usage_pct})
    ctx.result.paused_accounts.append(account_id)
    if post is not None:
        ctx.result.rate_limited += 1


async def _park(ctx: RunContext, post: ClaimedPost, exc: Exception) -> Outcome:
    """The token is dead: this post and the account's waiting posts are parked, the account needs a reconnect."""
    error = exc.reason if isinstance(exc, InstagramError) else exc.message if isinstance(exc, AppError) else str(exc)
    parked = await ctx.store.park(
        post, error=error, post_error=f"{error} Retry the post after reconnecting.", error_code=_code(exc)
    )
    ctx.result.parked += parked
    ctx.result.reauth_accounts.append(post.account_id)
    log.warning("account needs a reconnect; its posts are parked", extra={"parked": parked})
    return Outcome.PARKED
