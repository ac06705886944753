"""The insights calls of the Instagram client against exact Meta payloads (httpx.MockTransport): a refused
metric does not lose the others, error 10 is "not enough data", 190 a dead token, 4/17/32/613 throttling
with the usage headers' regain time; online_followers hour keys become UTC hours from the end_time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from sociallab.instagram import InstagramClient, ThrottledError, TokenInvalidError
from sociallab.instagram.errors import InsightsUnavailableError, PermanentError
from sociallab.instagram.insights import FEED_METRICS, online_hours_utc, online_profile, weekday_hour

pytestmark = pytest.mark.unit

SINCE = datetime(2026, 11, 29, tzinfo=UTC)
UNTIL = datetime(2026, 11, 30, tzinfo=UTC)


def error(code: int, message: str, *, subcode: int | None = None, status: int = 400) -> httpx.Response:
    body: dict[str, object] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Axyz"}
    if subcode is not None:
        body["error_subcode"] = subcode
    return httpx.Response(status, json={"error": body})


def values(names: list[str]) -> httpx.Response:
    return httpx.Response(
        200, json={"data": [{"name": n, "period": "lifetime", "values": [{"value": 7}]} for n in names]}
    )


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[InstagramClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return InstagramClient(
        http, graph_url="https://graph.test", oauth_url="https://api.test", api_version="v25.0"
    ), seen


def asked(request: httpx.Request) -> list[str]:
    return request.url.params["metric"].split(",")


async def test_a_metric_refused_by_name_is_dropped_and_the_others_kept() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "shares" in asked(request):
            return error(100, "(#100) The Media Insights API does not support the shares metric for this media")
        return values(asked(request))

    client, seen = client_for(handler)
    found = await client.media_insights("m1", "tok", metrics=FEED_METRICS, ig_user_id="u1")

    assert set(found) == set(FEED_METRICS) - {"shares"}
    assert len(seen) == 2 and client.calls_for("u1") == 2


async def test_a_refusal_naming_no_metric_asks_for_each_alone() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(asked(request)) > 1 or asked(request) == ["saved"]:
            return error(100, "(#100) Invalid parameter")
        return values(asked(request))

    client, seen = client_for(handler)
    found = await client.media_insights("m1", "tok", metrics=["reach", "saved", "likes"])

    assert found == {"reach": 7.0, "likes": 7.0}
    assert len(seen) == 4


async def test_a_missing_media_is_not_retried_metric_by_metric() -> None:
    client, seen = client_for(lambda r: error(100, "Object with ID 'm1' does not exist", subcode=33))
    with pytest.raises(PermanentError):
        await client.media_insights("m1", "tok", metrics=FEED_METRICS)
    assert len(seen) == 1


async def test_error_10_means_not_enough_data() -> None:
    client, _ = client_for(lambda r: error(10, "(#10) Not enough viewers for the media to show insights"))
    with pytest.raises(InsightsUnavailableError):
        await client.media_insights("story", "tok", metrics=["reach"])


async def test_error_190_is_a_dead_token() -> None:
    client, _ = client_for(lambda r: error(190, "Error validating access token", subcode=460))
    with pytest.raises(TokenInvalidError):
        await client.account_insights("u1", "tok", since=SINCE, until=UNTIL)


@pytest.mark.parametrize("code", [4, 17, 32, 613])
async def test_throttling_codes_carry_the_regain_time_of_the_usage_header(code: int) -> None:
    usage = {"u1": [{"type": "instagram", "call_count": 100, "total_cputime": 20, "total_time": 20,
                     "estimated_time_to_regain_access": 12}]}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        response = error(code, "(#4) Application request limit reached")
        response.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        return response

    client, _ = client_for(handler)
    with pytest.raises(ThrottledError) as caught:
        await client.account_insights("u1", "tok", since=SINCE, until=UNTIL)
    assert caught.value.retry_after == 12 * 60
    assert client.usage_for("u1") is not None and client.usage_for("u1").max_pct == 100  # type: ignore[union-attr]


async def test_account_totals_are_asked_for_the_utc_day_and_absent_metrics_stay_absent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"name": "reach", "period": "day", "total_value": {"value": 321}}]})

    client, seen = client_for(handler)
    found = await client.account_insights("u1", "tok", since=SINCE, until=UNTIL)

    assert found == {"reach": 321.0}
    params = seen[0].url.params
    assert (params["metric_type"], params["period"]) == ("total_value", "day")
    assert (int(params["since"]), int(params["until"])) == (int(SINCE.timestamp()), int(UNTIL.timestamp()))


def test_online_follower_hours_start_at_the_period_that_ends_at_end_time() -> None:
    body = {
        "data": [
            {
                "name": "online_followers",
                "period": "lifetime",
                "values": [
                    {"value": {"0": 10, "17": 99}, "end_time": "2026-07-08T07:00:00+0000"},  # summer: UTC-07:00
                    {"value": {"0": 11}, "end_time": "2026-12-01T08:00:00+0000"},  # winter: UTC-08:00
                ],
            }
        ]
    }
    hours = online_hours_utc(body)

    assert [(h.start, h.followers) for h in hours] == [
        (datetime(2026, 7, 7, 7, tzinfo=UTC), 10.0),
        (datetime(2026, 7, 8, 0, tzinfo=UTC), 99.0),
        (datetime(2026, 11, 30, 8, tzinfo=UTC), 11.0),
    ]
    # Wednesday 8 July 00:00 UTC is weekday 3 (0 = Sunday).
    assert weekday_hour(hours[1].start) == (3, 0)
    assert online_profile(hours)[0] == {"weekday": 1, "hour": 8, "followers_online": 11.0, "samples": 1}


def test_an_empty_answer_has_no_hours() -> None:
    assert online_hours_utc({"data": []}) == []
