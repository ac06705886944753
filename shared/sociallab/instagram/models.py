"""The values the Instagram client returns (plain frozen dataclasses; tokens never in their repr)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class TokenGrant:
    """An access token Instagram issued; `expires_in` in seconds (None for short-lived code exchanges)."""

    access_token: str = field(repr=False)
    user_id: str | None = None
    expires_in: int | None = None
    permissions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """The professional account behind a token (`ig_user_id` is the id publishing calls take)."""

    ig_user_id: str
    username: str
    name: str | None = None
    account_type: str | None = None
    profile_picture_url: str | None = None
    followers_count: int | None = None


@dataclass(frozen=True)
class PublishingLimit:
    """How many posts the account published in the current window, out of how many."""

    quota_usage: int
    quota_total: int
    window_seconds: int

    @property
    def remaining(self) -> int:
        return max(0, self.quota_total - self.quota_usage)


@dataclass(frozen=True)
class RecentMedia:
    """One media of an account's feed as ``GET /{ig_user_id}/media`` lists it (newest first); `timestamp` is
    when it was published (UTC), None when Instagram sent none or an unreadable one."""

    id: str
    caption: str | None
    timestamp: datetime | None
    permalink: str | None


def parse_timestamp(value: Any) -> datetime | None:
    """Instagram's ISO 8601 time (``2024-05-04T18:10:00+0000``) as an aware UTC datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def permission_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        return [str(p) for p in value]
    return []


def int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
