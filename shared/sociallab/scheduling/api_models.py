"""The posts API's request and response models (API.md "posts"); the OpenAPI document comes from these.

Times in requests are ISO 8601; one without an offset is a local time in the workspace's time
zone (`sociallab.scheduling.times`). Times in responses are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from sociallab.http.parsing import RequestModel
from sociallab.scheduling.validation import (
    HASHTAG_ITEM_PATTERN,
    MAX_ALT_TEXT,
    MAX_CAPTION,
    MAX_FIRST_COMMENT,
    MAX_HASHTAGS,
)

MediaType = Literal["IMAGE", "CAROUSEL", "STORY"]
Status = Literal["draft", "pending_approval", "scheduled", "publishing", "published", "failed", "cancelled"]


class ImageOut(BaseModel):
    """One image of a post; `url` is a signed Storage URL (None when the file is gone)."""

    url: str | None
    width: int | None
    height: int | None


class EventOut(BaseModel):
    """One entry of the post's audit trail."""

    id: UUID
    kind: str
    from_status: Status | None
    to_status: Status | None
    actor: str | None
    detail: dict[str, Any]
    created_at: datetime


class PostOut(BaseModel):
    """A post as the API returns it."""

    id: UUID
    workspace_id: UUID
    instagram_account_id: UUID | None
    status: Status
    media_type: MediaType
    caption: str | None
    hashtags: list[str]
    alt_text: str | None
    first_comment: str | None
    scheduled_at: datetime | None
    published_at: datetime | None
    attempts: int
    last_error: str | None
    failure_reason: str | None
    ig_media_id: str | None
    permalink: str | None
    images: list[ImageOut]
    match_id: UUID | None
    template_id: UUID | None
    content_type: str | None
    caption_source: str | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: list[EventOut] | None = None


class PostList(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


# Documented only: `normalize_hashtags` checks it, with its own error type.
Hashtag = Annotated[
    str, Field(json_schema_extra={"pattern": HASHTAG_ITEM_PATTERN}, description="one word: letters, digits, _")
]
Caption = Field(default=None, max_length=MAX_CAPTION)
AltText = Field(default=None, max_length=MAX_ALT_TEXT)
FirstComment = Field(default=None, max_length=MAX_FIRST_COMMENT)


class CreatePostBody(RequestModel):
    workspace_id: UUID
    instagram_account_id: UUID
    media_type: MediaType = "IMAGE"
    caption: str = Field(default="", max_length=MAX_CAPTION)
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=MAX_HASHTAGS)
    alt_text: str | None = AltText
    first_comment: str | None = FirstComment
    asset_ids: list[UUID] = Field(min_length=1, max_length=10)
    scheduled_at: datetime | None = None


class UpdatePostBody(RequestModel):
    """Only the fields present are changed; `null` clears an optional field."""

    instagram_account_id: UUID | None = None
    caption: str | None = Caption
    hashtags: list[Hashtag] | None = Field(default=None, max_length=MAX_HASHTAGS)
    alt_text: str | None = AltText
    first_comment: str | None = FirstComment
    asset_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=10)
    scheduled_at: datetime | None = None


class ScheduleBody(RequestModel):
    """`scheduled_at` defaults to the time already stored on the post."""

    scheduled_at: datetime | None = None


class ApproveBody(RequestModel):
    """An optional new time, e.g. when the one asked for has passed while waiting for approval."""

    scheduled_at: datetime | None = None


class RetryBody(RequestModel):
    """When to try again; default now."""

    scheduled_at: datetime | None = None


class ListQuery(RequestModel):
    workspace_id: UUID
    status: Status | None = None
    instagram_account_id: UUID | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class BestTimesQuery(RequestModel):
    instagram_account_id: UUID
    count: int = Field(default=5, ge=1, le=24)


class SlotOut(BaseModel):
    at: datetime
    score: float
    reason: str


class BestTimesOut(BaseModel):
    slots: list[SlotOut]
    timezone: str
