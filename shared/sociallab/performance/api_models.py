"""The insights API's request and response models (API.md "insights"); the OpenAPI document comes from these.

Metrics Instagram did not give are null, never 0. Engagement rate = interactions / reach.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from sociallab.http.parsing import RequestModel


class SummaryQuery(RequestModel):
    days: int = Field(default=28, ge=1, le=90)


class DayOut(BaseModel):
    """One UTC day of the account. `followers`: the follower total that day; `new_followers`:
    follows minus unfollows that day (Instagram's `follower_count`)."""

    day: date
    followers: int | None
    new_followers: int | None
    reach: int | None
    views: int | None
    accounts_engaged: int | None
    total_interactions: int | None


class SummaryOut(BaseModel):
    instagram_account_id: UUID
    username: str | None
    followers: int | None  # the current total, from the account's profile
    days: list[DayOut]  # oldest first, one per day, ending today (UTC)


class PerformanceQuery(RequestModel):
    workspace_id: UUID
    instagram_account_id: UUID | None = None
    from_: datetime | None = Field(default=None, alias="from")  # bounds published_at; naive = local time
    to: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class TemplateRef(BaseModel):
    id: UUID
    key: str
    name: str | None
    format: str


class PostPerformanceOut(BaseModel):
    post_id: UUID
    instagram_account_id: UUID | None
    published_at: datetime | None
    permalink: str | None
    media_type: str
    content_type: str | None
    template: TemplateRef | None
    reach: int | None
    likes: int | None
    comments: int | None
    saves: int | None
    shares: int | None
    views: int | None
    interactions: int | None
    engagement_rate: float | None
    insights_fetched_at: datetime | None


class PostPerformanceList(BaseModel):
    items: list[PostPerformanceOut]
    next_cursor: str | None


class TemplatesQuery(RequestModel):
    workspace_id: UUID
    instagram_account_id: UUID | None = None  # none: every account of the workspace pooled


class BeliefOut(BaseModel):
    """The selector's belief about the template's engagement rate: posterior mean and 95 % interval."""

    mean: float
    low: float
    high: float


class TemplatePerformanceOut(BaseModel):
    template_id: UUID
    key: str
    name: str
    content_type: str
    format: str
    is_builtin: bool
    posts: int  # published with it (any version)
    posts_with_insights: int
    mean_engagement_rate: float | None  # observed; null before any insights
    belief: BeliefOut
    choice_probability: float  # how often the selector would choose it now among its content type and format


class TemplatePerformanceList(BaseModel):
    instagram_account_id: UUID | None
    items: list[TemplatePerformanceOut]
