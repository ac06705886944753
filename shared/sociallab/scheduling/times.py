"""Times of posts: ISO 8601 instants, local wall-clock times in a workspace's time zone, "now".

Instants are stored and returned in UTC. A time given without an offset is a *local* time in the
workspace's time zone, and daylight saving time is resolved the way a person means it:

- in a spring-forward gap (02:30 on the day clocks jump 02:00 -> 03:00) the time moves forward by
  the length of the gap (03:30 local);
- in a fall-back overlap (02:30 happens twice) the first occurrence is taken (summer time).

A scheduled time must be in the future; anything within `NOW_TOLERANCE` before now means "now",
anything earlier is refused, and so is anything beyond `MAX_AHEAD`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sociallab.errors import RequestValidationError, UnprocessableError

NOW_TOLERANCE = timedelta(minutes=1)
MAX_AHEAD = timedelta(days=365)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`.

    Raises:
        UnprocessableError: an unknown zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnprocessableError(f"Unknown time zone: {name}.") from None


def local_to_utc(local: datetime, tz: tzinfo) -> datetime:
    """The UTC instant of the naive wall-clock time `local` in `tz` (gap: forward; overlap: first)."""
    if local.tzinfo is not None:
        raise ValueError("local_to_utc takes a naive datetime")
    # fold=0 resolves an overlap to the first occurrence and a gap with the offset in force before
    # the transition, which lands after the gap by the gap's length: exactly the rule above.
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local_time_on(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz` (DST as in `local_to_utc`)."""
    return local_to_utc(datetime.combine(day, at.replace(tzinfo=None)), tz)


def to_utc(value: datetime, tz: tzinfo) -> datetime:
    """`value` as a UTC instant: with an offset as given, without one as a local time in `tz`."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return local_to_utc(value.replace(tzinfo=None), tz)
    return value.astimezone(UTC)


def resolve_scheduled_at(value: datetime, tz: tzinfo, *, now: datetime, field: str = "scheduled_at") -> datetime:
    """The UTC instant a post should go out for the requested `value`.

    Within `NOW_TOLERANCE` before `now` means now (returns `now`).

    Raises:
        RequestValidationError: `value` is in the past or more than `MAX_AHEAD` ahead.
    """
    at = to_utc(value, tz)
    if at < now - NOW_TOLERANCE:
        raise RequestValidationError(
            "The scheduled time is in the past.",
            details=[{"field": field, "message": "Must be in the future.", "type": "in_past"}],
        )
    if at > now + MAX_AHEAD:
        raise RequestValidationError(
            "The scheduled time is too far ahead.",
            details=[{"field": field, "message": "Must be within 365 days.", "type": "too_far_ahead"}],
        )
    return max(at, now)


def utcnow() -> datetime:
    """The current instant, timezone-aware (the default clock of the services)."""
    return datetime.now(UTC)
