"""What Instagram's insights endpoints answer, as plain values (Instagram API with Instagram Login).

Facts from Meta's current reference (Instagram Account Insights, Instagram Media Insights) this module
relies on:

- A metric Instagram has no data for is left out of ``data`` (never a 0): it stays absent here (None).
- Values keep changing for up to 48 hours ("data used to calculate metrics may be delayed up to 48 hours").
- Lifetime metrics (``online_followers``) come as one entry per 24 h period, "with periods ending on
  UTC-07:00": ``end_time`` is ``...T07:00:00+0000``, and the value maps the hours ``"0"``..``"23"`` of that
  period. Hour key ``h`` is therefore the hour starting at ``end_time - 24 h + h``; `online_hours_utc` turns
  the keys into UTC instants from the ``end_time`` Instagram sends (so an 08:00 boundary in winter is
  honoured too), never by assuming the keys are UTC.
- Daily ``total_value`` metrics are totals over the ``since``/``until`` range we ask for (Unix seconds);
  we ask for UTC midnight to UTC midnight, so a stored day is a UTC day.
- Media metrics differ by product type: stories have no ``likes``/``comments``/``saved``; metrics of media
  inside an album are not available (only the album's); ``impressions`` and ``plays`` are gone (v22).
  Story metrics exist only within the story's 24 h and answer error 10 below 5 viewers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sociallab.instagram.models import parse_timestamp

ACCOUNT_METRICS: tuple[str, ...] = ("reach", "views", "accounts_engaged", "total_interactions", "follows_and_unfollows")
FEED_METRICS: tuple[str, ...] = ("reach", "likes", "comments", "saved", "shares", "total_interactions", "views")
STORY_METRICS: tuple[str, ...] = ("reach", "shares", "total_interactions", "views")
MEDIA_COLUMNS: tuple[str, ...] = FEED_METRICS  # the media_insights columns (migration 001)


def metrics_for(media_type: str) -> tuple[str, ...]:
    """The metrics worth asking for a media of this type (`media_type` as we store it: IMAGE, VIDEO,
    CAROUSEL_ALBUM, REELS or STORY)."""
    return STORY_METRICS if media_type == "STORY" else FEED_METRICS


@dataclass(frozen=True)
class InsightsMedia:
    """One media of the account's feed, as ``GET /{ig_user_id}/media`` lists it. `media_type` is Instagram's
    ``media_type`` (IMAGE, VIDEO, CAROUSEL_ALBUM), or REELS / STORY from ``media_product_type``."""

    id: str
    media_type: str
    timestamp: datetime | None


@dataclass(frozen=True)
class OnlineHour:
    """Followers online during the hour starting at `start` (UTC)."""

    start: datetime
    followers: float


def stored_media_type(media_type: Any, product_type: Any) -> str:
    """REELS and STORY from the product type, else Instagram's media_type (IMAGE when missing)."""
    if product_type in ("REELS", "STORY"):
        return str(product_type)
    return str(media_type) if isinstance(media_type, str) and media_type else "IMAGE"


def parse_media_list(body: Mapping[str, Any]) -> list[InsightsMedia]:
    rows = body.get("data")
    media: list[InsightsMedia] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or row.get("id") in (None, ""):
            continue
        media.append(
            InsightsMedia(
                id=str(row["id"]),
                media_type=stored_media_type(row.get("media_type"), row.get("media_product_type")),
                timestamp=parse_timestamp(row.get("timestamp")),
            )
        )
    return media


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_values(body: Mapping[str, Any]) -> dict[str, float]:
    """``{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}`` -> name: value.
    Metrics without a readable number are left out (absent, never 0)."""
    found: dict[str, float] = {}
    rows = body.get("data")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        value: float | None = None
        total = row.get("total_value")
        if isinstance(total, Mapping):
            value = _number(total.get("value"))
        else:
            values = row.get("values")
            if isinstance(values, list) and values and isinstance(values[-1], Mapping):
                value = _number(values[-1].get("value"))
        if value is not None:
            found[row["name"]] = value
    return found


def online_hours_utc(body: Mapping[str, Any]) -> list[OnlineHour]:
    """The ``online_followers`` answer as UTC hours (see the module docstring for the time zone)."""
    hours: list[OnlineHour] = []
    rows = body.get("data")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or row.get("name") != "online_followers":
            continue
        for entry in row.get("values") or []:
            if not isinstance(entry, Mapping):
                continue
            end = parse_timestamp(entry.get("end_time"))
            by_hour = entry.get("value")
            if end is None or not isinstance(by_hour, Mapping):
                continue
            start = end - timedelta(hours=24)
            for key, count in by_hour.items():
                number = _number(count)
                if number is None or not str(key).isdigit() or not 0 <= int(key) <= 23:
                    continue
                hours.append(OnlineHour(start + timedelta(hours=int(key)), number))
    return hours


def weekday_hour(instant: datetime) -> tuple[int, int]:
    """(weekday with 0 = Sunday, hour) of a UTC instant, as audience_online_hours keys them."""
    utc = instant.astimezone(UTC)
    return (utc.weekday() + 1) % 7, utc.hour


def online_profile(hours: Iterable[OnlineHour]) -> list[dict[str, Any]]:
    """The mean followers online per (UTC weekday, UTC hour) and how many hours were averaged."""
    sums: dict[tuple[int, int], list[float]] = {}
    for hour in hours:
        sums.setdefault(weekday_hour(hour.start), []).append(hour.followers)
    return [
        {"weekday": key[0], "hour": key[1], "followers_online": round(sum(v) / len(v), 2), "samples": len(v)}
        for key, v in sorted(sums.items())
    ]


_METRIC_WORD = re.compile(r"[a-z_]+")


def unsupported_metrics(message: str, asked: Iterable[str]) -> set[str]:
    """The metrics among `asked` that an error 100's message names (Meta names the metric it refuses,
    e.g. "(#100) The Media Insights API does not support the likes metric for this media product type")."""
    words = set(_METRIC_WORD.findall(message.lower()))
    return {metric for metric in asked if metric in words}
