"""Template selection: which template renders this post.

    choice = await select_template(tx, workspace_id=ws, content_type="match_result", format="feed_4x5",
                                   photo_count=2, account_id=account)
    choice.template  # a TemplateRecord (spec reduced to the format)

Eligible: the active templates the workspace may use (its own, and built-ins of keys it did not
override) of that content type and format, whose required photos the available photos fill.
Among them:

1. `template_key`, when the caller named one (422 naming `template_key` if it is not eligible);
2. else, once the account has insights for any eligible template, Thompson sampling on
   reach-normalised engagement (`sociallab.content.learning`): a normal belief per template and
   account (the Postgres `EngagementSource` reads `media_insights` of the account's posts made with
   each template), with the workspace's posts as the prior. The randomness comes from `rng`
   (seeded in tests; a fresh `random.Random()` otherwise);
3. else the deterministic fallback: the workspace's own before built-ins, then by key.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sociallab.content.learning import Belief, Evidence, Prior, belief, thompson
from sociallab.content.templates import TemplateRecord, list_templates
from sociallab.db import Tx, load_queries
from sociallab.errors import RequestValidationError

QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

Reason = Literal["requested", "engagement", "default"]


class EngagementSource(Protocol):
    """What is known of templates' engagement: the workspace-level prior, and the evidence per
    template (for `account_id`, or pooled over the workspace's accounts when it is None);
    templates without posts with insights are absent."""

    async def prior(self, tx: Tx, workspace_id: str) -> Prior: ...

    async def evidence(
        self, tx: Tx, workspace_id: str, account_id: str | None, template_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Evidence]: ...


@dataclass(frozen=True)
class PostgresEngagement:
    """Engagement rates (interactions / reach) from `media_insights`."""

    async def prior(self, tx: Tx, workspace_id: str) -> Prior:
        row = await tx.fetch_one(QUERIES["workspace_rates"], {"workspace_id": workspace_id})
        assert row is not None  # an aggregate always returns a row
        return Prior.from_rates(int(row["posts"]), row["mean_rate"], row["sd_rate"])

    async def evidence(
        self, tx: Tx, workspace_id: str, account_id: str | None, template_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Evidence]:
        if not template_ids:
            return {}
        ids = [str(t) for t in template_ids]
        rows = await tx.fetch_all(
            QUERIES["template_evidence"], {"workspace_id": workspace_id, "account_id": account_id, "template_ids": ids}
        )
        return {row["template_id"]: Evidence(int(row["posts"]), float(row["mean_rate"])) for row in rows}


async def beliefs(
    tx: Tx,
    *,
    workspace_id: str,
    account_id: str | None,
    template_ids: Sequence[uuid.UUID],
    engagement: EngagementSource | None = None,
) -> dict[uuid.UUID, Belief]:
    """The selector's current belief about each template's engagement rate."""
    source = engagement or PostgresEngagement()
    prior = await source.prior(tx, workspace_id)
    evidence = await source.evidence(tx, workspace_id, account_id, template_ids)
    return {t: belief(prior, evidence.get(t)) for t in template_ids}


@dataclass(frozen=True)
class TemplateChoice:
    template: TemplateRecord
    reason: Reason
    score: float | None  # with "engagement": the chosen template's believed engagement rate
    eligible: int  # how many templates were eligible
    detail: str = ""  # with "engagement": the draws and beliefs, for the log

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
    rng: random.Random | None = None,
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
        source = engagement or PostgresEngagement()
        ids = [t.id for t in eligible]
        evidence = await source.evidence(tx, str(workspace_id), str(account_id), ids)
        if evidence:
            prior = await source.prior(tx, str(workspace_id))
            believed = [belief(prior, evidence.get(t)) for t in ids]
            index, draws = thompson(believed, rng or random.Random())
            chosen = eligible[index]
            detail = "; ".join(
                f"{t.key}: drew {d:.2%}, believed {b.mean:.2%} from {b.posts} post(s)"
                for t, b, d in zip(eligible, believed, draws, strict=True)
            )
            return TemplateChoice(chosen, "engagement", believed[index].mean, len(eligible), detail)
    return TemplateChoice(eligible[0], "default", None, len(eligible))
