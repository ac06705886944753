"""Template selection: which template renders this post.

    choice = await select_template(tx, workspace_id=ws, content_type="match_result", format="feed_4x5",
                                   photo_count=2, account_id=account)
    choice.template  # a TemplateRecord (spec reduced to the format)

Eligible: the active templates the workspace may use (its own, and built-ins of keys it did not
override) of that content type and format, whose required photos the available photos fill.
Among them:

1. `template_key`, when the caller named one (422 naming `template_key` if it is not eligible);
2. else the best engagement so far for this Instagram account, from an `EngagementSource`
   (the Postgres one reads `media_insights` of posts made with each template; insights arrive
   with insights-sync, and with none every score is absent);
3. else the deterministic fallback: the workspace's own before built-ins, then by key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sociallab.content.templates import TemplateRecord, list_templates
from sociallab.db import Tx, load_queries
from sociallab.errors import RequestValidationError

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

MIN_POSTS_FOR_SCORE = 2  # one post is an anecdote; two with insights make a (weak) signal

Reason = Literal["requested", "engagement", "default"]


class EngagementSource(Protocol):
    """Scores of templates for an account (higher is better); templates without a score are absent."""

    async def scores(self, tx: Tx, account_id: str, template_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]: ...


@dataclass(frozen=True)
class PostgresEngagement:
    """Mean engagement rate (interactions / reach) of the account's posts made with each template."""

    min_posts: int = MIN_POSTS_FOR_SCORE

    async def scores(self, tx: Tx, account_id: str, template_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]:
        if not template_ids:
            return {}
        rows = await tx.fetch_all(
            QUERIES["engagement_scores"],
            {"account_id": account_id, "template_ids": [str(t) for t in template_ids], "min_posts": self.min_posts},
        )
        return {row["template_id"]: float(row["score"]) for row in rows}


@dataclass(frozen=True)
class TemplateChoice:
    template: TemplateRecord
    reason: Reason
    score: float | None
    eligible: int  # how many templates were eligible

    @property
    def id(self) -> uuid.UUID:
        return self.template.id

    @property
    def key(self) -> str:
        return self.template.key


def _fallback_order(record: TemplateRecord) -> tuple[bool, str]:
    return (record.is_builtin, record.key)


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(message, details=[{"field": field, "message": message, "type": "unavailable"}])


async def select_template(
    tx: Tx,
    *,
    workspace_id: str | uuid.UUID,
    content_type: str,
    format: str,
    photo_count: int,
    account_id: str | uuid.UUID | None = None,
    template_key: str | None = None,
    engagement: EngagementSource | None = None,
) -> TemplateChoice:
    """The template for a post (see the module docstring).

    Raises:
        RequestValidationError: no template of this content type and format (field `content_type`),
            `template_key` is not one of them (field `template_key`), or none can be filled with
            `photo_count` photos (field `asset_ids`, saying how many are needed).
    """
    available = await list_templates(tx, workspace_id, content_type=content_type, format=format)
    if not available:
        raise _invalid("content_type", f"No template for {content_type!r} posts in the {format!r} format.")
    if template_key is not None:
        named = [t for t in available if t.key == template_key]
        if not named:
            keys = ", ".join(sorted({t.key for t in available}))
            raise _invalid("template_key", f"No {content_type!r} template {template_key!r} in {format!r}; use {keys}.")
        available = named
    eligible = sorted((t for t in available if t.spec.required_photos <= photo_count), key=_fallback_order)
    if not eligible:
        needed = min(t.spec.required_photos for t in available)
        raise _invalid(
            "asset_ids",
            f"The {content_type!r} template needs at least {needed} photo(s); {photo_count} found. "
            "Pass asset_ids, or tag photos with the match.",
        )
    if template_key is not None:
        return TemplateChoice(eligible[0], "requested", None, len(eligible))
    if account_id is not None and len(eligible) > 1:
        scores = await (engagement or PostgresEngagement()).scores(tx, str(account_id), [t.id for t in eligible])
        scored = [t for t in eligible if t.id in scores]
        if scored:
            # Best score; ties keep the fallback order (sorted() is stable).
            best = sorted(scored, key=lambda t: -scores[t.id])[0]
            return TemplateChoice(best, "engagement", scores[best.id], len(eligible))
    return TemplateChoice(eligible[0], "default", None, len(eligible))
