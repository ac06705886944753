"""The request and response bodies of generate-content's `POST /` (API.md), apart from the generation
itself, so the function can declare its routes without loading templates, captions and Pillow."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from sociallab.http.parsing import RequestModel
from sociallab.scheduling.api_models import ImageOut, PostOut

Format = Literal["feed_4x5", "square", "story_9x16"]
CaptionSource = Literal["gemini", "cache", "template"]
MAX_DATA_KEYS = 100


class GenerateBody(RequestModel):
    """`POST /` of generate-content (API.md)."""

    workspace_id: uuid.UUID
    content_type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    data: dict[str, Any] = Field(default_factory=dict, max_length=MAX_DATA_KEYS)
    asset_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=10)
    match_id: uuid.UUID | None = None
    template_key: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    format: Format = "feed_4x5"
    instagram_account_id: uuid.UUID | None = None
    tone: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    schedule: str | None = Field(
        default=None,
        description='"best", an ISO 8601 time, or null (a draft)',
        json_schema_extra={"anyOf": [{"const": "best"}, {"type": "string", "format": "date-time"}, {"type": "null"}]},
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None or value == "best":
            return value
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError('use "best" or an ISO 8601 time such as 2025-06-14T18:00:00+02:00') from None
        return value


class GenerateOut(BaseModel):
    post: PostOut
    template_key: str
    images: list[ImageOut]
    caption: str
    hashtags: list[str]
    alt_text: str
    caption_source: CaptionSource
