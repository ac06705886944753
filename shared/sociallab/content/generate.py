"""generate-content: match data + photos -> template -> composed JPEG + caption -> a draft post.

    generator = Generator(db=get_db(), storage=get_storage(), captions=CaptionWriter(get_settings()))
    out = await generator.generate(GenerateBody(...), actor_user_id=user_id)

Steps: the workspace and match rows; the photos (the given `asset_ids`, else the match's: tagged
with it first, then taken on its local match day); the template (`selector`); then, at the same
time, the composition (Pillow, in a worker thread) and the caption (Gemini or the template's);
the JPEG goes to `workspaces/<ws>/posts/<render id>/0.jpg`; the post is created by
`scheduling.posts.create_post` (a draft, or scheduled: "best" = the first best-times slot, an ISO
time = that time, naive = local to the workspace).

Without `instagram_account_id`, a workspace with exactly one active account gets that one (so a
draft can be scheduled and the selector learns from that account's posts); with several, the post stays unassigned.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sociallab.content import assets as asset_service
from sociallab.content.api_models import GenerateBody, GenerateOut
from sociallab.content.captions import CaptionWriter
from sociallab.content.prompt import CaptionRequest
from sociallab.content.selector import EngagementSource, select_template
from sociallab.db import Database, Row, load_queries
from sociallab.errors import NotFoundError, RequestValidationError
from sociallab.logging import get_logger
from sociallab.scheduling import best_times, times
from sociallab.scheduling.posts import DuplicatePostError, PostImage, create_post, post_out
from sociallab.storage import Storage

log = get_logger(__name__)
QUERIES = load_queries(Path(__file__).with_suffix(".sql"))

MAX_PHOTOS = 10
_TRANSPARENT_LOGO_KINDS = {"image/png": "png", "image/webp": "webp"}


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(message, details=[{"field": field, "message": message, "type": "invalid"}])


def match_data(match: Mapping[str, Any], workspace: Mapping[str, Any]) -> dict[str, Any]:
    """The template/caption data of a match row: teams in home/away order, score, local date and time."""
    club = match.get("team") or workspace["name"]
    home, away = (club, match["opponent"]) if match["is_home"] else (match["opponent"], club)
    local = match["kickoff_at"].astimezone(ZoneInfo(workspace["timezone"]))
    data: dict[str, Any] = {
        "club": club,
        "opponent": match["opponent"],
        "home_team": home,
        "away_team": away,
        "is_home": match["is_home"],
        "home_away": "Home" if match["is_home"] else "Away",
        "competition": match.get("competition"),
        "venue": match.get("venue"),
        "kickoff_date": f"{local:%a} {local.day} {local:%b}",
        "kickoff_time": f"{local:%H:%M}",
        "kickoff_at": match["kickoff_at"].isoformat(),
        "player_stats": match.get("player_stats") or [],
    }
    hs, as_ = match.get("home_score"), match.get("away_score")
    if hs is not None and as_ is not None:
        ours, theirs = (hs, as_) if match["is_home"] else (as_, hs)
        data |= {"home_score": hs, "away_score": as_, "score": f"{hs}\u2013{as_}"}
        data["result"] = "win" if ours > theirs else "draw" if ours == theirs else "loss"
    extra = match.get("data") or {}
    return {**extra, **{k: v for k, v in data.items() if v is not None}}


@dataclass
class Generator:
    db: Database
    storage: Storage
    captions: CaptionWriter
    engagement: EngagementSource | None = None
    rng: random.Random | None = None  # the template selector's randomness (seeded in tests)
    clock: Callable[[], datetime] = times.utcnow

    async def generate(
        self,
        body: GenerateBody,
        *,
        actor_user_id: str | None,
        dedupe_key: str | None = None,
        scheduled_at: datetime | None = None,
        require_photos: bool = True,
    ) -> GenerateOut:
        """Compose, caption and create the post of `body` (see the module docstring).

        `scheduled_at` (the webhook's matchday slot) overrides `body.schedule`; `require_photos=False`
        renders a photo template with its fallback fill when no photo is found.

        Raises:
            NotFoundError: no such workspace or match (in this workspace).
            RequestValidationError: photos not found/ready, no eligible template, a schedule
                without an account, any rule of `create_post`.
            DuplicatePostError: `dedupe_key` is taken (nothing is left behind in storage).
            UnprocessableError: a photo cannot be decoded.
        """
        ws_id = str(body.workspace_id)
        async with self.db.transaction() as tx:
            workspace = await tx.fetch_one(QUERIES["workspace"], {"workspace_id": ws_id})
            if workspace is None:
                raise NotFoundError("No such workspace.")
            match = None
            if body.match_id is not None:
                match = await tx.fetch_one(QUERIES["match"], {"match_id": str(body.match_id), "workspace_id": ws_id})
                if match is None:
                    raise NotFoundError("No such match in this workspace.")
            if dedupe_key:  # checked early so a repeat costs no rendering (create_post re-checks)
                existing = await tx.fetch_val(
                    QUERIES["dedupe_taken"], {"workspace_id": ws_id, "dedupe_key": dedupe_key}
                )
                if existing is not None:
                    raise DuplicatePostError(str(existing))
            account_id = str(body.instagram_account_id) if body.instagram_account_id else None
            if account_id is None:
                account_id = await tx.fetch_val(QUERIES["only_active_account"], {"workspace_id": ws_id})
                account_id = str(account_id) if account_id else None
        if scheduled_at is not None and account_id is None:
            log.info("no single active Instagram account: the post stays a draft")
            scheduled_at = None
        photos = await self._photos(body, workspace, match)
        async with self.db.transaction() as tx:
            select = partial(
                select_template,
                tx,
                workspace_id=ws_id,
                content_type=body.content_type,
                format=body.format,
                account_id=account_id,
                template_key=body.template_key,
                engagement=self.engagement,
                rng=self.rng,
            )
            try:
                choice = await select(photo_count=len(photos))
            except RequestValidationError as exc:
                if require_photos or exc.details[0]["field"] != "asset_ids":
                    raise
                choice = await select(photo_count=MAX_PHOTOS)  # the layout paints its fallback fill
        record = choice.template
        photos = photos[: record.spec.photo_slots]
        data = {**(match_data(match, workspace) if match else {}), **body.data}
        data.setdefault("club", workspace["name"])
        data.setdefault("hashtags", " ".join(workspace["default_hashtags"]))
        try:
            photo_bytes = await asyncio.gather(*(asset_service.read_normalized(a, self.storage) for a in photos))
        except NotFoundError:
            raise _invalid("asset_ids", "A photo's file is missing from storage; upload it again.") from None
        brand = await self._brand(workspace)
        request = CaptionRequest(
            content_type=body.content_type,
            data={k: v for k, v in data.items() if k != "hashtags"},
            language=body.language or workspace["caption_language"],
            tone=body.tone or workspace["caption_tone"],
            default_hashtags=list(workspace["default_hashtags"]),
            club_name=workspace["name"],
        )
        from sociallab.content.composer import compose  # Pillow: only where an image is made

        composed, caption = await asyncio.gather(
            asyncio.to_thread(compose, record.spec, data, list(photo_bytes), brand, format=body.format),
            self.captions.write(self.db, request, caption_template=record.caption_template, workspace_id=ws_id),
        )
        path = f"workspaces/{ws_id}/posts/{uuid.uuid4()}/0.jpg"
        await self.storage.put(path, composed.jpeg, "image/jpeg")
        try:
            async with self.db.transaction() as tx:
                when = scheduled_at or await self._when(tx, body, account_id)
                row = await create_post(
                    tx,
                    workspace_id=ws_id,
                    actor_user_id=actor_user_id,
                    instagram_account_id=account_id,
                    media_type="STORY" if body.format == "story_9x16" else "IMAGE",
                    caption=caption.caption,
                    alt_text=caption.alt_text,
                    first_comment=caption.first_comment,
                    hashtags=caption.hashtags,
                    images=[PostImage(str(photos[0]["id"]) if photos else None, path, composed.width, composed.height)],
                    scheduled_at=when,
                    match_id=str(body.match_id) if body.match_id else None,
                    template_id=str(record.id),
                    content_type=body.content_type,
                    caption_source=caption.source,
                    dedupe_key=dedupe_key,
                    now=self.clock(),
                )
                out = await post_out(tx, row, storage=self.storage)
        except BaseException:
            try:
                await self.storage.delete(path)  # no orphan image for a post that was not made
            except Exception:
                log.warning("could not remove an unused composed image", extra={"path": path})
            raise
        log.info(
            "content generated",
            extra={
                "post_id": str(out.id),
                "template": record.key,
                "template_reason": choice.reason,
                "template_score": choice.score,
                "template_detail": choice.detail,
                "caption_source": caption.source,
                "caption_fallback_reason": caption.reason,
                "photos": len(photos),
            },
        )
        return GenerateOut(
            post=out,
            template_key=record.key,
            images=out.images,
            caption=caption.caption,
            hashtags=caption.hashtags,
            alt_text=caption.alt_text,
            caption_source=caption.source,
        )

    async def _photos(self, body: GenerateBody, workspace: Row, match: Row | None) -> list[Row]:
        ws_id = str(body.workspace_id)
        if body.asset_ids:
            ids = [str(a) for a in body.asset_ids]
            found = await asset_service.get_assets(self.db, ws_id, ids)
            missing = sorted(set(ids) - {str(a["id"]) for a in found})
            if missing:
                raise _invalid("asset_ids", f"Photo(s) not found or not ready: {', '.join(missing)}.")
            return found
        if match is not None:
            return await asset_service.assets_for_match(
                self.db, ws_id, str(match["id"]), match["kickoff_at"], workspace["timezone"]
            )
        return []

    async def _brand(self, workspace: Row) -> Any:
        from sociallab.content.render.brand import Brand

        logo = None
        if workspace["logo_asset_id"]:
            params = {"asset_id": str(workspace["logo_asset_id"]), "workspace_id": str(workspace["id"])}
            asset = await self.db.fetch_one(QUERIES["logo_asset"], params)
            path = asset and (asset["original_path"] if _logo_original_usable(asset) else asset["normalized_path"])
            try:
                logo = await self.storage.get(path) if path else None
            except NotFoundError:
                log.warning("logo missing from storage", extra={"asset_id": str(workspace["logo_asset_id"])})
        return Brand.from_workspace(workspace, logo=logo)

    async def _when(self, tx: Any, body: GenerateBody, account_id: str | None) -> datetime | None:
        if body.schedule is None:
            return None
        if body.schedule != "best":
            return datetime.fromisoformat(body.schedule)
        if account_id is None:
            raise _invalid("schedule", "Choose an Instagram account to schedule at the best time.")
        slots = await best_times.suggest(tx, account_id=account_id, count=1, now=self.clock())
        if not slots:
            raise _invalid("schedule", "No suggested time in the coming week; pick a time.")
        return slots[0].at


def _logo_original_usable(asset: Row) -> bool:
    """Whether to draw a logo from its original: it keeps a PNG's or WebP's transparency, but one
    over its format's pixel ceiling (stored before the ceilings were lowered) is drawn from the
    normalised JPEG instead."""
    from sociallab.content.decoding import MAX_PIXELS  # Pillow: only where an image is made

    kind = _TRANSPARENT_LOGO_KINDS.get(asset["mime_type"])
    return kind is not None and asset["width"] * asset["height"] <= MAX_PIXELS[kind]
