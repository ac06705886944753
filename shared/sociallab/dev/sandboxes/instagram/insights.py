"""Insights in the Instagram sandbox: ``GET /{ig_user_id}/insights`` and ``GET /{media_id}/insights``.

Functions over `SandboxState`, called with `state.lock` held. The numbers are made up but behave like
Meta's (see `sociallab.instagram.insights` for the facts):

- everything is deterministic (from the account's followers and the media id) and keeps growing for
  48 hours after the hour or the media it counts, then stays put;
- an account's audience is online most around `Account.audience_peak_hour` (UTC; 19.5 peaks at 19 and 20
  alike); ``online_followers``
  comes as 24 h periods ending at 07:00 UTC (Meta's UTC-07:00 days) keyed by the hour of that period;
- below 100 followers ``online_followers`` is an empty data set and ``follows_and_unfollows`` is left out;
- stories answer only ``reach, shares, total_interactions, views, replies, navigation`` (others are error
  100 naming the metric), error 10 below 5 viewers, nothing after their 24 h; ``impressions`` and
  ``plays`` are error 100 for every media.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

from sociallab.dev.sandboxes.instagram.content import iso_time, media_of
from sociallab.dev.sandboxes.instagram.state import Account, Media, MetaError, SandboxState, bad_param

SETTLE_SECONDS = 48 * 3600
DAY = 86_400
PACIFIC_DAY_END_HOUR = 7  # periods end at 07:00 UTC (UTC-07:00 midnight)
ONLINE_DAYS = 30
SMALL_ACCOUNT = 100
ACCOUNT_METRICS = {"reach", "views", "accounts_engaged", "total_interactions", "follows_and_unfollows"}
FEED_METRICS = {"reach", "likes", "comments", "saved", "shares", "total_interactions", "views", "follows",
                "profile_visits"}  # fmt: skip
STORY_METRICS = {"reach", "replies", "shares", "total_interactions", "views", "navigation", "follows"}
REMOVED_METRICS = {"impressions", "plays", "video_views", "clips_replays_count"}
STORY_SECONDS = 86_400
MIN_STORY_VIEWERS = 5


def _settled(age_seconds: float) -> float:
    """The share of its final value a figure shows `age_seconds` after the thing it counts."""
    return 0.0 if age_seconds <= 0 else min(1.0, 0.35 + 0.65 * age_seconds / SETTLE_SECONDS)


def _unit(key: str) -> float:
    """A stable number in [0, 1) for `key`."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32


def online_share(account: Account, instant: float) -> float:
    """The share of followers online during the hour starting at `instant` (epoch seconds, UTC)."""
    moment = datetime.fromtimestamp(instant, UTC)
    away = abs(moment.hour - account.audience_peak_hour)
    distance = min(away, 24 - away)
    weekend = 1.15 if moment.weekday() >= 5 else 1.0
    return (0.04 + 0.3 * math.exp(-(distance**2) / 8.0)) * weekend


def _metrics(params: dict[str, str]) -> list[str]:
    names = [m.strip() for m in params.get("metric", "").split(",") if m.strip()]
    if not names:
        raise bad_param("The parameter metric is required.")
    return names


def _int_param(params: dict[str, str], name: str) -> int | None:
    if not params.get(name):
        return None
    try:
        return int(params[name])
    except ValueError:
        raise bad_param(f"The parameter {name} must be a Unix timestamp.") from None


def account_insights(state: SandboxState, account: Account, params: dict[str, str]) -> dict[str, Any]:
    """``GET /{ig_user_id}/insights``: daily totals (metric_type=total_value) or online_followers."""
    names = _metrics(params)
    if names == ["online_followers"]:
        return online_followers(state, account, params)
    for name in names:
        if name not in ACCOUNT_METRICS:
            raise bad_param(f"(#100) The {name} metric is not supported for this request.")
    if params.get("period") != "day" or params.get("metric_type") != "total_value":
        raise bad_param("(#100) These metrics need period=day and metric_type=total_value.")
    now = state.clock()
    until = min(_int_param(params, "until") or int(now), int(now))
    since = _int_param(params, "since") or until - DAY
    reach = 0.0
    for hour_start in range(since - since % 3600, until, 3600):
        reach += account.followers_count * 0.2 * online_share(account, hour_start) * _settled(now - hour_start - 3600)
    values = {
        "reach": reach,
        "views": reach * 1.8,
        "accounts_engaged": reach * 0.12,
        "total_interactions": reach * 0.16,
        "follows_and_unfollows": reach * 0.01,
    }
    data = []
    for name in names:
        if name == "follows_and_unfollows" and account.followers_count < SMALL_ACCOUNT:
            continue  # not available below 100 followers: left out, as Meta does
        data.append(
            {
                "name": name,
                "period": "day",
                "title": name.replace("_", " ").capitalize(),
                "total_value": {"value": int(values[name])},
                "id": f"{account.ig_user_id}/insights/{name}/day",
            }
        )
    return {"data": data}


def online_followers(state: SandboxState, account: Account, params: dict[str, str]) -> dict[str, Any]:
    if params.get("period") != "lifetime":
        raise bad_param("(#100) online_followers needs period=lifetime.")
    if account.followers_count < SMALL_ACCOUNT:
        return {"data": []}
    now = int(state.clock())
    until = min(_int_param(params, "until") or now, now)
    since = max(_int_param(params, "since") or until - DAY, now - ONLINE_DAYS * DAY)
    values = []
    # Every complete period (07:00 UTC to 07:00 UTC) inside [since, until).
    end = until - (until - PACIFIC_DAY_END_HOUR * 3600) % DAY
    while end - DAY >= since:
        start = end - DAY
        by_hour = {str(h): int(account.followers_count * online_share(account, start + h * 3600)) for h in range(24)}
        values.append({"value": by_hour, "end_time": iso_time(end)})
        end -= DAY
    values.reverse()
    return {
        "data": [
            {
                "name": "online_followers",
                "period": "lifetime",
                "values": values,
                "title": "Online followers",
                "id": f"{account.ig_user_id}/insights/online_followers/lifetime",
            }
        ]
    }


def media_insights(state: SandboxState, account: Account, media_id: str, params: dict[str, str]) -> dict[str, Any]:
    """``GET /{media_id}/insights``: the media's metrics at its current age."""
    media = media_of(state, media_id, account)
    names = _metrics(params)
    story = media.media_type == "STORIES"
    supported = STORY_METRICS if story else FEED_METRICS
    for name in names:
        if name in REMOVED_METRICS:
            raise bad_param(f"(#100) The {name} metric is no longer supported for media created after July 2, 2024.")
        if name not in supported:
            kind = "story" if story else "feed"
            raise bad_param(
                f"(#100) The Media Insights API does not support the {name} metric for this {kind} media product type."
            )
    age = state.clock() - media.published_at
    if story and age > STORY_SECONDS:
        return {"data": []}  # story insights live 24 h
    values = media_values(state, account, media, age)
    if story and values["views"] < MIN_STORY_VIEWERS:
        raise MetaError(400, 10, "(#10) Not enough viewers for the media to show insights.")
    return {
        "data": [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": values.get(name, 0)}],
                "title": name.replace("_", " ").capitalize(),
                "id": f"{media.id}/insights/{name}/lifetime",
            }
            for name in names
        ]
    }


def media_values(state: SandboxState, account: Account, media: Media, age: float) -> dict[str, int]:
    """Every metric of `media` `age` seconds after it went out."""
    share = _settled(age)
    reach = account.followers_count * (0.2 + 0.4 * _unit(media.id + "reach")) * share
    likes = reach * (0.05 + 0.1 * _unit(media.id + "likes"))
    comments = reach * 0.01 * _unit(media.id + "comments") * 2
    saved = reach * 0.02 * _unit(media.id + "saved")
    shares = reach * 0.015 * _unit(media.id + "shares")
    values = {
        "reach": reach,
        "likes": likes,
        "comments": comments,
        "saved": saved,
        "shares": shares,
        "views": reach * (1.2 + 0.8 * _unit(media.id + "views")),
        "replies": comments,
        "navigation": reach * 0.5,
        "follows": reach * 0.002,
        "profile_visits": reach * 0.03,
    }
    whole = {name: int(value) for name, value in values.items()}
    whole["total_interactions"] = whole["likes"] + whole["comments"] + whole["saved"] + whole["shares"]
    if media.media_type == "STORIES":
        whole["total_interactions"] = whole["replies"] + whole["shares"]
    return whole


def seed_media(
    state: SandboxState, account: Account, *, count: int, every_seconds: float, media_type: str = "IMAGE"
) -> list[str]:
    """Media the account published before (the newest `every_seconds` ago, each `every_seconds` apart):
    history for insights. Returns their ids, newest first."""
    now = state.clock()
    ids = []
    for index in range(count):
        media_id = state._next_id()
        state.media[media_id] = Media(
            id=media_id,
            container_id="",
            ig_user_id=account.ig_user_id,
            media_type=media_type,
            caption=f"Earlier post {index + 1}",
            image_urls=[],
            published_at=now - every_seconds * (index + 1),
            permalink=f"https://www.instagram.com/p/SBX{media_id[-8:]}/",
        )
        ids.append(media_id)
    return ids


def insights_route(state: SandboxState, account: Account, object_id: str, params: dict[str, str]) -> dict[str, Any]:
    """Account or media insights, by what `object_id` is."""
    if object_id in (account.ig_user_id, "me"):
        return account_insights(state, account, params)
    if object_id in state.media:
        return media_insights(state, account, object_id, params)
    raise bad_param(
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.",
        subcode=33,
    )


__all__ = ["insights_route", "media_values", "online_share", "seed_media"]
