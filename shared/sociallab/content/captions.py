"""Captions: Gemini when it can, the template's own caption when it cannot. The AI never blocks a post.

    writer = CaptionWriter(get_settings())
    caption = await writer.write(db, request, fallback_template="{home_team} {home_score}-{away_score} ...")
    caption.source  # "gemini" | "cache" | "template"

Order of business, per caption:

1. No GEMINI_API_KEY -> the template caption (reason "unconfigured").
2. The cache (`caption_cache`, key = sha256 of the normalised prompt + model) -> source "cache".
3. The daily budgets (`usage_counters` scope 'gemini', one window per Pacific day, as Google counts):
   the workspace's own (key 'workspace:<id>', GEMINI_WORKSPACE_DAILY_BUDGET) and the project's (key
   'calls', GEMINI_DAILY_BUDGET) are reserved together, one unit per HTTP attempt. The workspace's used
   up -> template (reason "workspace_budget_used") and one notification that day; the project's used up
   -> template (reason "budget_used"). So one busy club can never spend the captions of every other.
4. Gemini (google-genai async client), retried with exponential backoff on 429/5xx and transport
   errors (at most `max_attempts`, honouring Retry-After / RetryInfo up to `max_wait`).
5. The output is validated against Instagram's limits: too many hashtags or too long is repaired
   (hashtags trimmed, caption shortened); malformed JSON, an empty caption, more than 20 mentions,
   any URL, or @mentions not present in the data are rejected and asked for once more, then the
   template caption is used (reason "invalid_output"). Other failures: reason "gemini_failed".

google-genai is imported on first use only (publish-due never imports this module anyway).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from sociallab.config import Settings
from sociallab.content.prompt import (
    ALT_TEXT_LIMIT,
    CAPTION_LIMIT,
    MAX_HASHTAGS,
    MENTION_LIMIT,
    RESPONSE_SCHEMA,
    CaptionRequest,
    Prompt,
    build_prompt,
    clean_text,
    data_strings,
    normalise_hashtags,
)
from sociallab.content.templates.formatting import render_caption
from sociallab.db import Database, load_queries
from sociallab.logging import get_logger
from sociallab.scheduling.validation import hashtags_in, instagram_caption, mentions_in

if TYPE_CHECKING:  # httpx is loaded with google-genai, when a caption is first written (cold start: issue 7)
    import httpx

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

GEMINI_API_VERSION = "v1beta"
CACHE_TTL = timedelta(days=30)
REQUEST_TIMEOUT_S = 20.0
_PACIFIC = ZoneInfo("America/Los_Angeles")  # where Google's daily quotas roll over

Source = Literal["gemini", "cache", "template"]
Reason = Literal["unconfigured", "budget_used", "workspace_budget_used", "gemini_failed", "invalid_output"]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]

_URL = re.compile(
    r"(?i)\b(?:https?://\S+|www\.\S+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
    r"(?:com|net|org|io|co|ly|gg|app|xyz|info|biz|me|tv|link|club|shop|site|online|ru|cn|top)\b(?:/\S*)?)"
)
_GENERIC = {
    "match_result": "Full time.",
    "matchday": "Matchday!",
    "player_spotlight": "Player spotlight.",
    "announcement": "News from the club.",
    "quote": "Words from the club.",
}


@dataclass(frozen=True)
class Caption:
    caption: str
    hashtags: list[str]
    alt_text: str
    first_comment: str | None
    source: Source
    reason: Reason | None = None  # why the template caption was used

    def as_json(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "hashtags": self.hashtags,
            "alt_text": self.alt_text,
            "first_comment": self.first_comment,
        }


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")

    caption: str
    hashtags: list[str] = []
    alt_text: str = ""
    first_comment: str | None = None


class _BudgetUsedError(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


class InvalidOutputError(Exception):
    """Gemini answered, but not with a caption we may publish."""


class GeminiCallError(Exception):
    """A call failed; `transient` ones are worth retrying (429, 5xx, timeouts)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


# --- output rules -----------------------------------------------------------------------------


def count_mentions(text: str) -> int:
    """@mentions as Instagram (and `scheduling.validation`) count them."""
    return len(mentions_in(text))


def full_caption(caption: str, hashtags: list[str]) -> str:
    """The text Instagram receives (the same as `scheduling.validation.instagram_caption`)."""
    return instagram_caption(caption, hashtags)


def _foreign(text: str, allowed: str) -> list[str]:
    """Every URL in `text` (links are not clickable in captions, and data may carry an injected one),
    and every @mention that does not appear in `allowed` (case-insensitive)."""
    haystack = allowed.lower()
    found = [m.group(0) for m in _URL.finditer(text)]
    return found + [f"@{m}" for m in mentions_in(text) if f"@{m}".lower() not in haystack]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013") + "\u2026"


def check_output(raw: str, prompt: Prompt, default_hashtags: list[str]) -> Caption:
    """A publishable caption from Gemini's JSON text, repaired where repair is safe.

    Raises:
        InvalidOutputError: not the JSON asked for, empty, > 20 mentions, a URL, or a mention
            that the data does not contain.
    """
    try:
        out = _Output.model_validate(json.loads(raw))
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise InvalidOutputError("not the JSON object asked for") from exc
    caption = clean_text(out.caption, 10 * CAPTION_LIMIT)
    if not caption:
        raise InvalidOutputError("empty caption")
    first_comment = clean_text(out.first_comment, CAPTION_LIMIT) if out.first_comment else None
    if first_comment and len(hashtags_in(first_comment)) > MAX_HASHTAGS:
        first_comment = None  # optional: dropped rather than repaired
    allowed = data_strings(prompt.payload)
    foreign = _foreign(caption + "\n" + (first_comment or ""), allowed)
    if foreign:
        raise InvalidOutputError(f"{len(foreign)} URL(s) or mention(s) not from the data")
    if count_mentions(caption) > MENTION_LIMIT:
        raise InvalidOutputError("too many mentions")
    occurrences = hashtags_in(caption)
    if len(occurrences) > MAX_HASHTAGS:
        raise InvalidOutputError("too many hashtags in the caption text")
    in_text = {t.lower() for t in occurrences}
    tags = [t for t in normalise_hashtags(default_hashtags + out.hashtags) if t[1:].lower() not in in_text]
    tags = tags[: MAX_HASHTAGS - len(occurrences)]
    # Too long: drop hashtags (the club's own last), then shorten the caption.
    defaults = {t.lower() for t in normalise_hashtags(default_hashtags)}
    while len(full_caption(caption, tags)) > CAPTION_LIMIT and any(t.lower() not in defaults for t in tags):
        extra = [i for i, t in enumerate(tags) if t.lower() not in defaults]
        tags.pop(extra[-1])
    room = CAPTION_LIMIT - (len(full_caption("", tags)) if tags else 0)
    caption = _shorten(caption, room)
    alt_text = clean_text(out.alt_text, ALT_TEXT_LIMIT) or _alt_text(prompt.payload.get("content_type", ""), caption)
    return Caption(caption, tags, alt_text, first_comment, "gemini")


# --- the template caption ----------------------------------------------------------------------


def _alt_text(content_type: str, caption: str) -> str:
    kind = content_type.replace("_", " ") or "club"
    first = caption.splitlines()[0] if caption else ""
    return clean_text(f"Branded {kind} graphic. {first}", ALT_TEXT_LIMIT)


def template_caption(
    caption_template: str | None,
    data: Mapping[str, Any],
    *,
    content_type: str,
    default_hashtags: list[str],
    reason: Reason | None = None,
) -> Caption:
    """The caption from the template's `caption_template` (a line with missing data is dropped, see
    `render_caption`): hashtag-only lines become `hashtags`, after the workspace's own."""
    text = render_caption(caption_template or "", data)
    body, tags = [], list(default_hashtags)
    for line in text.splitlines():
        words = line.split()
        if words and all(w.startswith("#") for w in words):
            tags.extend(words)
        else:
            body.append(line)
    caption = "\n".join(body).strip() or _GENERIC.get(content_type, "New from the club.")
    hashtags = normalise_hashtags(tags)
    caption = _shorten(caption, CAPTION_LIMIT - len(full_caption("", hashtags)))
    return Caption(caption, hashtags, _alt_text(content_type, caption), None, "template", reason)


# --- the writer ------------------------------------------------------------------------------


def _retry_after(exc: Any) -> float | None:
    """Seconds from a Retry-After header or a google.rpc.RetryInfo detail, if present."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header and header.strip().isdigit():
        return float(header)
    details = getattr(exc, "details", None)
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in error.get("details", []) if isinstance(error, dict) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
            return float(delay[:-1])
    return None


@dataclass
class CaptionWriter:
    """Writes captions; every dependency (HTTP transport, sleep, clock) can be injected."""

    settings: Settings
    daily_budget: int | None = None  # default: GEMINI_DAILY_BUDGET
    workspace_daily_budget: int | None = None  # default: GEMINI_WORKSPACE_DAILY_BUDGET
    max_attempts: int = 3
    base_delay: float = 1.0
    max_wait: float = 10.0  # a longer Retry-After means: give up, use the template
    sleep: Sleep = asyncio.sleep
    clock: Clock = field(default=lambda: datetime.now(UTC))
    transport: httpx.AsyncBaseTransport | None = None

    async def write(
        self,
        db: Database,
        request: CaptionRequest,
        *,
        caption_template: str | None,
        workspace_id: str | None = None,
    ) -> Caption:
        """The caption for `request`, paid from `workspace_id`'s daily budget too (None: the project's only);
        never raises for Gemini's sake (falls back to the template).

        Raises:
            DependencyUnavailableError: the database is down (the post could not be saved anyway).
        """

        def fallback(reason: Reason) -> Caption:
            return template_caption(
                caption_template,
                request.data,
                content_type=request.content_type,
                default_hashtags=request.default_hashtags,
                reason=reason,
            )

        if self.settings.gemini_api_key is None or not self.settings.gemini_api_key.get_secret_value():
            return fallback("unconfigured")
        model = self.settings.gemini_model
        prompt = build_prompt(request)
        key = prompt.cache_key(model)
        cached = await db.fetch_one(QUERIES["cache_get"], {"key": key, "model": model, "now": self.clock()})
        if cached is not None:
            try:
                hit = check_output(json.dumps(cached["response"]), prompt, request.default_hashtags)
                return Caption(hit.caption, hit.hashtags, hit.alt_text, hit.first_comment, "cache")
            except InvalidOutputError:
                pass  # rules changed since it was cached: ask again
        outcome = await self._ask(db, prompt, request.default_hashtags, workspace_id)
        if isinstance(outcome, str):
            return fallback(outcome)
        expires = self.clock() + CACHE_TTL
        await db.execute(
            QUERIES["cache_put"],
            {
                "key": key,
                "model": model,
                "response": json.dumps(outcome.as_json()),
                "expires_at": expires,
                "now": self.clock(),
            },
        )
        return outcome

    async def _ask(
        self, db: Database, prompt: Prompt, default_hashtags: list[str], workspace_id: str | None
    ) -> Caption | Reason:
        """Gemini's caption, or the reason there is none."""
        invalid_seen = False
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            refused = await self._reserve(db, workspace_id)
            if refused is not None:
                return refused
            try:
                raw = await self._call(prompt)
            except GeminiCallError as exc:
                delay = self.base_delay * 2 ** (attempt - 1) * (1 + random.random() / 4)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if not exc.transient or attempt >= self.max_attempts or delay > self.max_wait:
                    log.warning("gemini call failed", extra={"error": str(exc), "attempt": attempt})
                    return "gemini_failed"
                log.info("gemini call retried", extra={"error": str(exc), "attempt": attempt, "delay_s": delay})
                await self.sleep(delay)
                continue
            try:
                return check_output(raw, prompt, default_hashtags)
            except InvalidOutputError as exc:
                log.warning("gemini output rejected", extra={"error": str(exc), "attempt": attempt})
                if invalid_seen:
                    return "invalid_output"
                invalid_seen = True
                attempt = min(attempt, self.max_attempts - 1)  # always one more try for a bad output
        return "gemini_failed"

    async def _reserve(self, db: Database, workspace_id: str | None) -> Reason | None:
        """Take one call from the workspace's and the project's budgets of today, both or neither; the reason
        when one is used up (the workspace is told once a day)."""
        project = self.settings.gemini_daily_budget if self.daily_budget is None else self.daily_budget
        own = self.workspace_daily_budget
        own = self.settings.gemini_workspace_daily_budget if own is None else own
        now = self.clock()
        try:
            async with db.transaction() as tx:
                if workspace_id and not await tx.fetch_one(
                    QUERIES["take_budget"], {"key": f"workspace:{workspace_id}", "budget": own, "now": now}
                ):
                    raise _BudgetUsedError("workspace_budget_used")
                if not await tx.fetch_one(QUERIES["take_budget"], {"key": "calls", "budget": project, "now": now}):
                    raise _BudgetUsedError("budget_used")  # rolls the workspace's unit back too
        except _BudgetUsedError as used:
            log.warning("gemini daily budget used", extra={"budget": used.reason, "workspace_id": workspace_id})
            if used.reason == "workspace_budget_used":
                day = now.astimezone(_PACIFIC).date().isoformat()
                await db.execute(
                    QUERIES["notify_workspace_budget_used"], {"workspace_id": workspace_id, "budget": own, "day": day}
                )
            return used.reason
        return None

    async def _call(self, prompt: Prompt) -> str:
        """One generateContent request; the response's text.

        Raises:
            GeminiCallError: transient (429, 5xx, timeouts, connection) or permanent (4xx, blocked).
        """
        import httpx
        from google import genai
        from google.genai import errors as genai_errors
        from google.genai import types

        async with httpx.AsyncClient(transport=self.transport, timeout=REQUEST_TIMEOUT_S) as http:
            options = types.HttpOptions(
                base_url=self.settings.gemini_base_url,
                api_version=GEMINI_API_VERSION,
                timeout=int(REQUEST_TIMEOUT_S * 1000),
                httpx_async_client=http,
            )
            client = genai.Client(vertexai=False, api_key=self.settings.secret("gemini_api_key"), http_options=options)
            config = types.GenerateContentConfig(
                system_instruction=prompt.system_instruction,
                response_mime_type="application/json",
                response_schema=RESPONSE_SCHEMA,
                temperature=0.7,
                candidate_count=1,
            )
            try:
                response = await client.aio.models.generate_content(
                    model=self.settings.gemini_model, contents=prompt.user_content, config=config
                )
            except genai_errors.APIError as exc:
                transient = exc.code == 429 or exc.code >= 500
                raise GeminiCallError(
                    f"Gemini answered {exc.code} {exc.status}", transient=transient, retry_after=_retry_after(exc)
                ) from None
            except httpx.TimeoutException:
                raise GeminiCallError("Gemini timed out", transient=True) from None
            except httpx.TransportError as exc:
                raise GeminiCallError(f"Gemini unreachable ({type(exc).__name__})", transient=True) from None
        text = response.text
        if not text:
            reason = response.prompt_feedback.block_reason if response.prompt_feedback else None
            raise GeminiCallError(f"Gemini returned no text (block reason {reason})", transient=False)
        return text
