"""Local times in a workspace's time zone, across DST, and the "in the future" rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from sociallab.errors import RequestValidationError, UnprocessableError
from sociallab.scheduling import times
from sociallab.scheduling.best_times import PastPost, default_slots, hour_lifts, rank_slots

pytestmark = pytest.mark.unit

AMS = times.zone("Europe/Amsterdam")
NYC = times.zone("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "local", "expected"),
    [
        # Europe/Amsterdam 2025: CET -> CEST on 30 March 02:00, back on 26 October 03:00.
        (AMS, datetime(2025, 3, 29, 18, 0), utc(2025, 3, 29, 17, 0)),
        (AMS, datetime(2025, 3, 30, 18, 0), utc(2025, 3, 30, 16, 0)),  # the day clocks jump
        (AMS, datetime(2025, 3, 30, 2, 30), utc(2025, 3, 30, 1, 30)),  # gap: 03:30 CEST
        (AMS, datetime(2025, 3, 30, 1, 59), utc(2025, 3, 30, 0, 59)),  # just before the gap
        (AMS, datetime(2025, 3, 30, 3, 0), utc(2025, 3, 30, 1, 0)),  # first time after it
        (AMS, datetime(2025, 10, 26, 18, 0), utc(2025, 10, 26, 17, 0)),  # the day clocks fall back
        (AMS, datetime(2025, 10, 26, 2, 30), utc(2025, 10, 26, 0, 30)),  # overlap: first (CEST)
        # America/New_York 2025: EST -> EDT on 9 March 02:00, back on 2 November 02:00.
        (NYC, datetime(2025, 3, 8, 18, 0), utc(2025, 3, 8, 23, 0)),
        (NYC, datetime(2025, 3, 9, 18, 0), utc(2025, 3, 9, 22, 0)),
        (NYC, datetime(2025, 3, 9, 2, 30), utc(2025, 3, 9, 7, 30)),  # gap: 03:30 EDT
        (NYC, datetime(2025, 11, 2, 1, 30), utc(2025, 11, 2, 5, 30)),  # overlap: first (EDT)
        (NYC, datetime(2025, 11, 2, 18, 0), utc(2025, 11, 2, 23, 0)),
    ],
)
def test_local_times_map_to_the_intended_instant(tz: times.ZoneInfo, local: datetime, expected: datetime) -> None:
    assert times.to_utc(local, tz) == expected
    # The wall clock reads what the user asked for, except in a gap (moved forward by its length).
    shown = expected.astimezone(tz).replace(tzinfo=None)
    assert shown == local or (local.hour == 2 and shown == local + timedelta(hours=1))


def test_a_gap_time_moves_forward_to_the_same_minutes_after_the_jump() -> None:
    at = times.to_utc(datetime(2025, 3, 30, 2, 30), AMS)
    assert at.astimezone(AMS).strftime("%H:%M %Z") == "03:30 CEST"


def test_an_overlap_time_takes_the_first_occurrence() -> None:
    at = times.to_utc(datetime(2025, 10, 26, 2, 30), AMS)
    assert at.astimezone(AMS).strftime("%H:%M %Z") == "02:30 CEST"
    assert at < times.to_utc(datetime(2025, 10, 26, 2, 30, fold=1).replace(tzinfo=AMS), AMS)


def test_times_with_an_offset_are_kept_as_given() -> None:
    given = datetime(2025, 3, 30, 18, 0, tzinfo=times.zone("Asia/Tokyo"))
    assert times.to_utc(given, AMS) == utc(2025, 3, 30, 9, 0)


def test_local_time_on_a_day() -> None:
    assert times.local_time_on(date(2025, 3, 30), time(18, 0), AMS) == utc(2025, 3, 30, 16, 0)
    assert times.local_time_on(date(2025, 11, 2), time(18, 0), NYC) == utc(2025, 11, 2, 23, 0)


NOW = utc(2025, 6, 1, 12, 0)


def test_a_future_time_is_kept() -> None:
    assert times.resolve_scheduled_at(NOW + timedelta(minutes=5), AMS, now=NOW) == NOW + timedelta(minutes=5)


def test_within_a_minute_of_now_means_now() -> None:
    assert times.resolve_scheduled_at(NOW - timedelta(seconds=59), AMS, now=NOW) == NOW
    assert times.resolve_scheduled_at(NOW, AMS, now=NOW) == NOW


def test_the_past_is_refused() -> None:
    with pytest.raises(RequestValidationError) as exc:
        times.resolve_scheduled_at(NOW - timedelta(seconds=61), AMS, now=NOW)
    assert exc.value.details[0]["type"] == "in_past"


def test_a_naive_time_is_judged_in_the_workspace_zone() -> None:
    # 13:30 in Amsterdam (CEST) is 11:30 UTC: half an hour before NOW, so in the past.
    with pytest.raises(RequestValidationError):
        times.resolve_scheduled_at(datetime(2025, 6, 1, 13, 30), AMS, now=NOW)
    assert times.resolve_scheduled_at(datetime(2025, 6, 1, 14, 30), AMS, now=NOW) == utc(2025, 6, 1, 12, 30)


def test_more_than_a_year_ahead_is_refused() -> None:
    with pytest.raises(RequestValidationError) as exc:
        times.resolve_scheduled_at(NOW + timedelta(days=366), AMS, now=NOW)
    assert exc.value.details[0]["type"] == "too_far_ahead"


def test_unknown_zone() -> None:
    with pytest.raises(UnprocessableError):
        times.zone("Mars/Olympus_Mons")


# --- best times (pure parts) -----------------------------------------------------------------


def test_default_slots_follow_local_time_across_dst() -> None:
    now = utc(2025, 3, 28, 12, 0)  # Friday; clocks jump on Sunday 30 March
    slots = default_slots(default_time=time(18, 0), timezone="Europe/Amsterdam", now=now)
    assert [s.at for s in slots] == [
        utc(2025, 3, 28, 17),
        utc(2025, 3, 29, 17),
        utc(2025, 3, 30, 16),
        utc(2025, 3, 31, 16),
        utc(2025, 4, 1, 16),
        utc(2025, 4, 2, 16),
        utc(2025, 4, 3, 16),
    ]
    assert all(s.reason == "workspace default" for s in slots)


def test_default_slots_skip_today_once_the_time_has_passed_and_stay_within_7_days() -> None:
    now = utc(2025, 6, 2, 17, 30)  # 19:30 in Amsterdam: today's 18:00 is gone
    slots = default_slots(default_time=time(18, 0), timezone="Europe/Amsterdam", now=now)
    assert slots[0].at == utc(2025, 6, 3, 16)
    assert all(now < s.at <= now + timedelta(days=7) for s in slots)
    assert len(slots) == 7


def test_audience_alone_ranks_by_followers_online_and_keeps_a_gap() -> None:
    now = utc(2025, 6, 4, 12, 30)  # Wednesday
    # UTC weekday 0 = Sunday ... 6 = Saturday.
    hours = {(6, 18): 1000.0, (6, 19): 990.0, (0, 10): 500.0, (3, 12): 800.0, (3, 13): 100.0}
    slots = rank_slots(hours, [], taken=[], timezone="UTC", now=now, count=5)
    assert [(s.at, s.score) for s in slots] == [
        (utc(2025, 6, 7, 18), 1.0),  # Saturday 18:00; Saturday 19:00 (0.99) is within 3 h of it
        (utc(2025, 6, 11, 12), 0.8),  # next Wednesday 12:00 (today's 12:00 has passed)
        (utc(2025, 6, 8, 10), 0.5),  # Sunday 10:00
        (utc(2025, 6, 4, 13), 0.1),  # today 13:00; next Wednesday 13:00 is too close to 12:00
    ]
    assert slots[0].reason == "100 % of your followers' peak are online"
    assert slots[1].reason == "80 % of your followers' peak are online"
    assert rank_slots(hours, [], taken=[], timezone="UTC", now=now, count=2) == slots[:2]
    assert rank_slots({}, [], taken=[], timezone="UTC", now=now, count=5) == []
    assert rank_slots({(1, 1): 0.0}, [], taken=[], timezone="UTC", now=now, count=5) == []


EVENINGS = {(day, hour): online for day in range(7) for hour, online in ((12, 800.0), (17, 1000.0))}


def posts_at(hour_utc: int, rates: list[float]) -> list[PastPost]:
    return [PastPost(utc(2025, 5, 1 + i, hour_utc), rate) for i, rate in enumerate(rates)]


def test_own_posts_move_the_best_hour_once_there_are_enough_of_them() -> None:
    now = utc(2025, 6, 4, 20, 30)
    # 12:00 UTC (14:00 in Amsterdam) has 80 % of the 17:00 audience. One strong post there is an anecdote...
    few = posts_at(12, [0.09]) + posts_at(20, [0.05] * 3)
    slots = rank_slots(EVENINGS, few, taken=[], timezone="Europe/Amsterdam", now=now, count=14)
    assert slots[0].at.hour == 17
    # ...a dozen posts that engage 1.8x the others are a pattern: 14:00 local comes first.
    many = posts_at(12, [0.09] * 12) + posts_at(17, [0.05] * 12)
    slots = rank_slots(EVENINGS, many, taken=[], timezone="Europe/Amsterdam", now=now, count=14)
    assert {s.at.hour for s in slots[:7]} == {12}
    assert slots[0].score == 1.0
    assert slots[0].reason == (
        "80 % of your followers' peak are online; your 12 posts around 14:00 got 1.3x your average engagement"
    )
    lifts = hour_lifts(many, times.zone("Europe/Amsterdam"))
    assert lifts[14].posts == 12 and lifts[14].observed == pytest.approx(0.09 / 0.07)
    assert 1 < lifts[14].shrunk < lifts[14].observed  # shrunk toward the audience prior


def test_slots_already_taken_by_the_account_are_avoided() -> None:
    now = utc(2025, 6, 4, 20, 30)
    free = rank_slots(EVENINGS, [], taken=[], timezone="UTC", now=now, count=3)
    taken = [free[0].at + timedelta(minutes=30)]
    slots = rank_slots(EVENINGS, [], taken=taken, timezone="UTC", now=now, count=3)
    assert free[0].at not in [s.at for s in slots]
    assert all(abs(s.at - taken[0]) >= timedelta(hours=3) for s in slots)
    assert [s.at for s in slots] == [s.at for s in free[1:]] + [slots[-1].at]


def test_without_audience_data_hours_where_posts_did_well_are_suggested() -> None:
    now = utc(2025, 6, 4, 20, 30)
    posts = posts_at(19, [0.10] * 6) + posts_at(9, [0.02] * 6)
    slots = rank_slots({}, posts, taken=[], timezone="UTC", now=now, count=10)
    assert {s.at.hour for s in slots} == {19}  # 09:00 did worse than average: not suggested
    assert slots[0].score == pytest.approx(0.5 * (6 * (0.10 / 0.06) + 3) / 9, abs=1e-4)
    assert slots[0].reason == "your 6 posts around 19:00 got 1.7x your average engagement"
